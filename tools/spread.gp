# SPDX-License-Identifier: MIT
# The spread plot of the README: the fraction of nodes holding a fresh
# update, round by round, measured (mean over the bench's seeded runs)
# against the push-pull recurrence, for N = 1000 with 0% and 30% loss.
#   gnuplot -e "data='spread.dat'; out='spread.png'" tools/spread.gp
# spread.dat is written by `crdt-bench --gossip --curve spread.dat`.
set terminal pngcairo size 900,540 font ",11" noenhanced
set output out
set title "One update spreading through 1,000 nodes (push-pull, fanout 1)"
set xlabel "rounds since the write (100 ms each)"
set ylabel "fraction of nodes holding the update"
set xrange [0:20]
set yrange [0:1.02]
set key right bottom
set grid
plot data index 0 using 1:2 with linespoints lw 2 pt 7 ps 0.7 lc rgb "#1f77b4" title "libcrdt, 0% loss (measured)", \
     data index 0 using 1:3 with lines lw 2 dt 2 lc rgb "#1f77b4" title "push-pull theory, 0% loss", \
     data index 1 using 1:2 with linespoints lw 2 pt 5 ps 0.7 lc rgb "#d62728" title "libcrdt, 30% loss (measured)", \
     data index 1 using 1:3 with lines lw 2 dt 2 lc rgb "#d62728" title "push-pull theory, 30% loss"

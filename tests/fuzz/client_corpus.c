/* SPDX-License-Identifier: MIT */
/*
 * Writes the seed corpus of the client protocol fuzz target
 * (fuzz_client.c): a request of every op and a few replies as our encoder
 * writes them, and hand-made variants the encoder never writes (integers
 * in their widest forms, str keys, keys in another order, unknown keys
 * holding nested values), so the fuzzer starts from every branch of the
 * reader.
 *
 *   client_corpus OUT_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/client.h>
#include <crdt/codec.h>

static const char *dir;

static void put(const char *name, const uint8_t *b, size_t n)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f)) {
        perror(path);
        exit(1);
    }
}

static void put_request(const char *name, const crdt_client_request *rq)
{
    crdt_buf b;

    crdt_buf_init(&b, NULL);
    if (crdt_client_request_encode(rq, &b)) {
        fprintf(stderr, "client_corpus: %s does not encode\n", name);
        exit(1);
    }
    put(name, b.data, b.len);
    crdt_buf_clear(&b);
}

static void put_reply(const char *name, const crdt_client_reply *rp)
{
    crdt_buf b;

    crdt_buf_init(&b, NULL);
    if (crdt_client_reply_encode(rp, &b)) {
        fprintf(stderr, "client_corpus: %s does not encode\n", name);
        exit(1);
    }
    put(name, b.data, b.len);
    crdt_buf_clear(&b);
}

int main(int argc, char **argv)
{
    static const uint8_t state[] = {0x93, 0x01, 0x03, 0x81, 0x01, 0x05};
    /* {"op":"add","v":int64 1,"id":uint32 7,"key":"k","elem":bin "e",
     *  "by":uint16 1,"x":[{"y":[nil,1.5f]}],"timeout_ms":uint64 10,
     *  "level":"all","token":bin ""} */
    static const uint8_t wide_req[] =
        "\x8a\xa2op\xa3" "add" "\xa1v\xd3\0\0\0\0\0\0\0\x01"
        "\xa2id\xce\0\0\0\x07" "\xa3key\xa1k" "\xa4" "elem\xc4\x01" "e"
        "\xa2" "by\xcd\0\x01" "\xa1x\x91\x81\xa1y\x92\xc0\xca\x3f\xc0\0\0"
        "\xaatimeout_ms\xcf\0\0\0\0\0\0\0\x0a" "\xa5level\xa3" "all"
        "\xa5token\xc4\x00";
    /* {"ok":false,"err":int32 -15,"id":uint8 3,"v":uint16 1,
     *  "msg":str8 "quorum","acks":int8 2,"z":{"a":ext8}} */
    static const uint8_t wide_rep[] =
        "\x87\xa2ok\xc2\xa3" "err\xd2\xff\xff\xff\xf1" "\xa2id\xcc\x03"
        "\xa1v\xcd\0\x01" "\xa3msg\xd9\x06quorum" "\xa4" "acks\xd0\x02"
        "\xa1z\x81\xa1" "a\xc7\x02\x01xy";
    crdt_client_request rq;
    crdt_client_reply rp;
    char name[64];
    int op;

    if (argc != 2) {
        fprintf(stderr, "usage: client_corpus OUT_DIR\n");
        return 2;
    }
    dir = argv[1];
    for (op = CRDT_OP_INC; op <= CRDT_OP_STATUS; op++) {
        crdt_client_request_init(&rq, op);
        rq.id = (uint64_t)op * 1000;
        rq.key = (const uint8_t *)"cart:42";
        rq.klen = 7;
        rq.type = "orset";
        rq.typelen = 5;
        rq.by = 3;
        rq.value = (const uint8_t *)"apple";
        rq.vlen = 5;
        rq.level = 1 + op % 4;
        rq.timeout_ms = op % 2 ? 250 : 70000;
        if (op % 3 == 0) {
            rq.token = state;
            rq.tlen = sizeof state;
        }
        snprintf(name, sizeof name, "request-%s", crdt_client_op_name(op));
        put_request(name, &rq);
    }
    crdt_client_reply_init(&rp);
    rp.id = 1;
    rp.type = "gcounter";
    rp.typelen = 8;
    rp.state = state;
    rp.slen = sizeof state;
    rp.acks = 2;
    rp.token = state + 1;
    rp.tlen = 4;
    put_reply("reply-get", &rp);
    rp.deleted = true;
    rp.state = NULL;
    rp.slen = 0;
    put_reply("reply-watch-deleted", &rp);
    crdt_client_reply_init(&rp);
    rp.id = 9;
    rp.status = "{\"node\":\"a\",\"peers\":2}";
    rp.statuslen = strlen(rp.status);
    put_reply("reply-status", &rp);
    crdt_client_reply_init(&rp);
    rp.id = 0;
    rp.ok = false;
    rp.err = CRDT_ERR_DECODE;
    rp.msg = "unreadable request";
    rp.msglen = strlen(rp.msg);
    put_reply("reply-error", &rp);
    /* the hand-made ones must decode, or they seed nothing */
    if (crdt_client_request_decode(&rq, wide_req, sizeof wide_req - 1) ||
        crdt_client_reply_decode(&rp, wide_rep, sizeof wide_rep - 1)) {
        fprintf(stderr, "client_corpus: a wide message does not decode\n");
        return 1;
    }
    put("request-wide", wide_req, sizeof wide_req - 1);
    put("reply-wide", wide_rep, sizeof wide_rep - 1);
    return 0;
}

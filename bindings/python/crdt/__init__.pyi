# SPDX-License-Identifier: MIT
from os import PathLike
from typing import Any, Dict, Type, Union

from crdt._crdt import (
    CRDT as CRDT, VClock as VClock, DotContext as DotContext,
    GCounter as GCounter, PNCounter as PNCounter,
    LWWRegister as LWWRegister, MVRegister as MVRegister, GSet as GSet,
    ORSet as ORSet, EWFlag as EWFlag, DWFlag as DWFlag, ORMap as ORMap,
    HLC as HLC, Node as Node, Sim as Sim, Peer as Peer, Error as Error,
    DecodeError as DecodeError, InvalidArgumentError as InvalidArgumentError,
    LimitError as LimitError, CRDTOverflowError as CRDTOverflowError,
    TypeMismatchError as TypeMismatchError,
    ClockDriftError as ClockDriftError,
    BufferTooSmallError as BufferTooSmallError,
    RandomSourceError as RandomSourceError, NotFoundError as NotFoundError,
    BusyError as BusyError, AuthenticationError as AuthenticationError,
    TransportError as TransportError, ScenarioError as ScenarioError,
    ConsistencyTimeout as ConsistencyTimeout, Client as Client,
    Session as Session, Watch as Watch,
    actor as actor,
    random_actor as random_actor, decode as decode, actor_of as actor_of,
    strerror as strerror, LIBRARY_VERSION as LIBRARY_VERSION,
    FORMAT_VERSION as FORMAT_VERSION, MAX_DATAGRAM as MAX_DATAGRAM,
    MIN_DATAGRAM as MIN_DATAGRAM,
)

__version__: str
CLASSES: Dict[str, Type[CRDT]]


def run_scenario(text: Union[str, bytes], *, max_ms: int = ...,
                 dump: bool = ...) -> Dict[str, Any]: ...
def run_scenario_file(path: Union[str, "PathLike[str]"], *, max_ms: int = ...,
                      dump: bool = ...) -> Dict[str, Any]: ...

"""The moto server, with DynamoDB calls serialized.

moto runs TransactWriteItems by deep-copying the table, applying the writes, and restoring the
copy when a condition fails, with no lock: two concurrent transactions can undo each other's
writes, which DynamoDB itself never does (it serializes conflicting transactions). socialcare's
tests race deliveries on purpose, so the emulator must give DynamoDB's isolation: this launcher
runs every DynamoDB call under one lock. SQS and the rest stay concurrent (long polls included).

Usage: python infra/moto_server.py -H 127.0.0.1 -p PORT  (the same arguments as moto_server)
"""

import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_lock = threading.Lock()
_call_action = DynamoHandler.call_action


def _serialized_call_action(self):
    with _lock:
        return _call_action(self)


DynamoHandler.call_action = _serialized_call_action

if __name__ == "__main__":
    main()

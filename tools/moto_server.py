"""moto_server with DynamoDB TransactWriteItems idempotency (ClientRequestToken).

Drop-in for `.venv/bin/moto_server` (same arguments, same "Running on ..." line on
stderr). moto 5.2.5 ignores ClientRequestToken, but the AWS SDKs (Rust, JS v3) set it
on every TransactWriteItems and keep it across retries: when a retry follows an
attempt that moto had already applied (e.g. a client-side attempt timeout), AWS
answers success without re-applying, while plain moto re-runs the writes and answers
TransactionCanceledException (ConditionalCheckFailed). This launcher patches
`moto.dynamodb.responses.DynamoHandler.transact_write_items` to do what the
DynamoDB API reference documents for the token:

  * same token + same parameters within 10 minutes -> the first answer, nothing re-applied;
  * same token + other parameters -> 400 IdempotentParameterMismatchException;
  * a failed call is not remembered (only a completed transaction "uses" the token),
    so retrying it with the same token runs it again;
  * no token -> moto's behaviour, unchanged.

The lock orders tokened transactions among themselves only: moto still undoes a failed
transaction by restoring whole-table copies, which can wipe a concurrent PutItem,
UpdateItem or DeleteItem (or an untokened transaction) on the same tables.

Written against moto 5.2.5 (handler returns an ActionResult and reads the parsed
request from `self.body`; errors are JsonRESTError subclasses).
"""

import json
import sys
import threading
import time
from collections import OrderedDict

from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.responses import DynamoHandler
from moto.server import main

# "A client request token is valid for 10 minutes after the first request that uses
# it is completed." (TransactWriteItems API reference)
TOKEN_TTL_SECONDS = 600


class IdempotentParameterMismatchException(DynamodbException):
    # Same construction as moto's own DynamoDB errors (exceptions.py): 400 with body
    # {"__type": "com.amazonaws.dynamodb.v20120810#...", "message": ...}; the SDKs
    # take the code from the part after '#'. Message: the API model's description.
    error_type = ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException"

    def __init__(self) -> None:
        super().__init__(
            self.error_type,
            "DynamoDB rejected the request because you retried a request with a "
            "different payload but with an idempotent token that was already used.",
        )


_original = DynamoHandler.transact_write_items
# moto_server serves each request on its own thread. One lock, held across the
# original call, so two concurrent requests with the same token cannot both apply.
# Requests without a token do not take it.
_lock = threading.Lock()
# (account, region, token) -> (expiry on the monotonic clock, request fingerprint, ActionResult),
# in the order they expire (each gets the same TTL when stored), so pruning looks at the oldest only.
_done: OrderedDict = OrderedDict()


def _fingerprint(params: dict) -> str:
    # The parsed request minus the token, canonically (key order does not matter;
    # list order, e.g. of TransactItems, does). repr covers bytes from B attributes.
    rest = {k: v for k, v in params.items() if k != "ClientRequestToken"}
    return json.dumps(rest, sort_keys=True, default=repr)


def transact_write_items(self):
    token = self.body.get("ClientRequestToken")
    if not token:
        return _original(self)
    # Tokens are per account and region on AWS.
    key = (self.current_account, self.region, token)
    fingerprint = _fingerprint(self.body)
    with _lock:
        now = time.monotonic()
        while _done and next(iter(_done.values()))[0] <= now:
            _done.popitem(last=False)
        if key in _done:
            _, seen, result = _done[key]
            if seen != fingerprint:
                raise IdempotentParameterMismatchException()
            return result
        # An exception propagates and leaves nothing cached.
        result = _original(self)
        _done[key] = (time.monotonic() + TOKEN_TTL_SECONDS, fingerprint, result)
        return result


DynamoHandler.transact_write_items = transact_write_items

if __name__ == "__main__":
    # As .venv/bin/moto_server (the console script) does; main() reads sys.argv[1:].
    sys.argv[0] = sys.argv[0].removesuffix(".exe")
    sys.exit(main())

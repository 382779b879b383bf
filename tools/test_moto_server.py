"""Checks tools/moto_server.py: TransactWriteItems idempotency on ClientRequestToken.

Run: .venv/bin/python tools/test_moto_server.py   (exits non-zero on failure)

Starts the launcher on a port moto picks (-p 0), reads the port from its
"Running on http://127.0.0.1:<port>" line on stderr, talks to it with boto3 and
stops it by process id at the end.
"""

import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.exceptions import ClientError
from botocore.handlers import generate_idempotent_uuid

LAUNCHER = Path(__file__).with_name("moto_server.py")
REGION = "us-east-1"
TABLE = "idempotency"


def start_server():
    proc = subprocess.Popen(
        [sys.executable, str(LAUNCHER), "-H", "127.0.0.1", "-p", "0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    port = None
    for line in proc.stderr:
        m = re.search(r"Running on http://127\.0\.0\.1:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    if port is None:
        raise SystemExit(f"launcher exited ({proc.wait()}) without announcing a port")
    # Keep draining stderr (werkzeug logs every request there) so the pipe never fills.
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    return proc, port


def client(endpoint, send_token=True):
    c = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    if not send_token:
        # botocore fills ClientRequestToken in automatically (it is an idempotency
        # token in the API model); unregister that to send a request without one.
        # (botocore registers it on the generic event; this client has its own copy.)
        c.meta.events.unregister("before-parameter-build", generate_idempotent_uuid)
    return c


def transaction(order, counter="counter"):
    return [
        {
            "Put": {
                "TableName": TABLE,
                "Item": {"pk": {"S": order}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {
            "Update": {
                "TableName": TABLE,
                "Key": {"pk": {"S": counter}},
                "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
    ]


def error_of(call):
    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None


failures = []


def check(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'}: {name}{' -- ' + str(detail) if detail else ''}")
    if not ok:
        failures.append(name)


def run(endpoint):
    ddb = client(endpoint)
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def count(counter="counter"):
        item = ddb.get_item(TableName=TABLE, Key={"pk": {"S": counter}}).get("Item")
        return int(item["n"]["N"]) if item else 0

    def exists(pk):
        return "Item" in ddb.get_item(TableName=TABLE, Key={"pk": {"S": pk}})

    # 1. Same token, same request, twice: both succeed, applied once.
    first = ddb.transact_write_items(TransactItems=transaction("order-1"), ClientRequestToken="tok-1")
    check("first call with token succeeds", first["ResponseMetadata"]["HTTPStatusCode"] == 200)
    second = error_of(lambda: ddb.transact_write_items(TransactItems=transaction("order-1"), ClientRequestToken="tok-1"))
    check("repeat with same token + same request succeeds", second is None, second)
    check("item written", exists("order-1"))
    check("ADD counter incremented once", count() == 1, f"n={count()}")

    # 2. Same token, different request: 400 IdempotentParameterMismatchException, nothing applied.
    mismatch = error_of(lambda: ddb.transact_write_items(TransactItems=transaction("order-2"), ClientRequestToken="tok-1"))
    check("same token + different item -> IdempotentParameterMismatchException (400)",
          mismatch == ("IdempotentParameterMismatchException", 400), mismatch)
    check("mismatched request not applied", not exists("order-2") and count() == 1, f"n={count()}")

    # The raw error body, for the record (moto's usual DynamoDB error shape).
    body = json.dumps({"TransactItems": transaction("order-3"), "ClientRequestToken": "tok-1"}).encode()
    req = urllib.request.Request(endpoint + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810.TransactWriteItems",
        "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20250101/{REGION}/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=0",
    })
    try:
        urllib.request.urlopen(req)
        check("raw mismatch request rejected", False, "got 2xx")
    except urllib.error.HTTPError as e:
        raw = json.loads(e.read())
        print(f"      raw error: HTTP {e.code} {json.dumps(raw)}")
        check("raw error body has DynamoDB __type and message",
              e.code == 400 and raw.get("__type") == "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException"
              and bool(raw.get("message")), raw)

    # 3. No token (genuinely absent), repeated: moto's behaviour as before.
    plain = client(endpoint, send_token=False)
    sent = {}
    plain.meta.events.register("before-call.dynamodb.TransactWriteItems",
                               lambda params, **_: sent.update(token=json.loads(params["body"]).get("ClientRequestToken")))
    no_tok = error_of(lambda: plain.transact_write_items(TransactItems=transaction("order-4", "counter-4")))
    check("no token: first call succeeds", no_tok is None and sent["token"] is None, (no_tok, sent))
    no_tok = error_of(lambda: plain.transact_write_items(TransactItems=transaction("order-4", "counter-4")))
    check("no token: repeat -> TransactionCanceledException", no_tok == ("TransactionCanceledException", 400), no_tok)
    check("no token: counter incremented once", count("counter-4") == 1)

    # boto3's default (a fresh token per call) behaves the same way.
    auto = error_of(lambda: ddb.transact_write_items(TransactItems=transaction("order-1")))
    check("auto-generated token, same item -> TransactionCanceledException", auto == ("TransactionCanceledException", 400), auto)

    # 4. A failed call is not remembered: the same token runs again once the cause is gone.
    failed = error_of(lambda: ddb.transact_write_items(TransactItems=transaction("order-1", "counter-5"), ClientRequestToken="tok-5"))
    check("token on a failing transaction -> TransactionCanceledException", failed == ("TransactionCanceledException", 400), failed)
    ddb.delete_item(TableName=TABLE, Key={"pk": {"S": "order-1"}})
    retried = error_of(lambda: ddb.transact_write_items(TransactItems=transaction("order-1", "counter-5"), ClientRequestToken="tok-5"))
    check("retry of the failed token is executed and succeeds", retried is None and count("counter-5") == 1, retried)

    # 5. Concurrent calls with one token: all succeed, applied once.
    def concurrent(_):
        return error_of(lambda: client(endpoint).transact_write_items(
            TransactItems=transaction("order-6", "counter-6"), ClientRequestToken="tok-6"))
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(concurrent, range(8)))
    check("8 concurrent calls with one token all succeed", results == [None] * 8, results)
    check("... and apply once", count("counter-6") == 1, f"n={count('counter-6')}")


def main():
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    proc, port = start_server()
    print(f"launcher pid {proc.pid} on port {port}")
    try:
        run(f"http://127.0.0.1:{port}")
    except Exception as e:  # an unexpected error is a failure too
        check("unexpected exception", False, repr(e))
    finally:
        proc.terminate()  # only the process this script started
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    print(f"{len(failures)} failure(s)" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

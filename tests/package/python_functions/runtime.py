"""The Python peers' Lambda runtime: what AWS's Python runtime does, minimally. Init imports the
handler module (its clients are created there, at import, as AWS recommends), then the loop
asks the Runtime API for an event, calls `handler(event, context)` and posts its answer to
`/response` (or the exception to `/error`).

    python runtime.py MODULE    # MODULE: presign_upload, presign_download, producer, consumer, redriver
"""
import importlib
import json
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
handler = importlib.import_module(sys.argv[1]).handler
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"


class Context:
    def __init__(self, request_id, deadline_ms):
        self.aws_request_id = request_id
        self.deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return self.deadline_ms - int(time.time() * 1000)


while True:
    with urllib.request.urlopen(api + "next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
        deadline = int(r.headers.get("Lambda-Runtime-Deadline-Ms") or 0)
        event = json.load(r)
    try:
        answer, path = json.dumps(handler(event, Context(request_id, deadline))).encode(), "/response"
    except Exception as error:
        answer = json.dumps({"errorMessage": str(error), "errorType": type(error).__name__}).encode()
        path = "/error"
    urllib.request.urlopen(urllib.request.Request(api + request_id + path, data=answer, method="POST")).close()

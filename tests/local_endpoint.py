"""The local AWS endpoint for tests and local mode: moto's server (what `moto_server` runs),
with one correction.

DynamoDB applies a conditional write atomically: of two concurrent writes to one item whose
condition only one can satisfy, exactly one succeeds. moto's server is threaded and its
DynamoDB backend takes no lock, so two concurrent UpdateItem calls can both pass the same
condition. That would make the tests of racing writers (duplicate S3 events, competing
consumers) test moto's race instead of our code, so DynamoDB requests are served one at a
time here, as DynamoDB's per-item serialization guarantees. S3 and SQS stay concurrent (SQS
long polls must not block other requests).

Usage: python tests/local_endpoint.py HOST PORT
"""
import sys
import threading

from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    dynamodb = threading.Lock()

    def serve(environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with dynamodb:
                # The whole response is produced inside the lock.
                return list(app(environ, start_response))
        return app(environ, start_response)

    run_simple(host, port, serve, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()

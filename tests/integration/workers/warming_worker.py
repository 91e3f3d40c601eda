"""A Circus worker that takes LOAD seconds to load its app, then announces that it is
ready with the django_app role's hook. It logs "TIME EVENT PID" lines to EVENTS.

Usage: warming_worker.py EVENTS LOAD
"""

import os
import signal
import sys
import time

import webstack_worker

EVENTS, LOAD = sys.argv[1], float(sys.argv[2])


def log(event):
    with open(EVENTS, "a") as events:
        events.write(f"{time.time()} {event} {os.getpid()}\n")


def stop(signum, frame):
    del signum, frame
    log("stopped")
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
log("started")
time.sleep(LOAD)
webstack_worker.announce_ready(os.getpid())
log("ready")
while True:
    signal.pause()

"""A Circus worker that takes LOAD seconds to load its app, then announces that it is
ready with the django_app role's hook. It logs "TIME EVENT PID" lines to EVENTS.
LOAD may also be @FILE: the seconds are read from FILE in the working directory, so that
each release of an app can load in its own time.

Usage: warming_worker.py EVENTS LOAD
"""

import os
import signal
import sys
import time

import webstack_worker

EVENTS = sys.argv[1]
if sys.argv[2].startswith("@"):
    with open(sys.argv[2][1:]) as load:
        LOAD = float(load.read())
else:
    LOAD = float(sys.argv[2])


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

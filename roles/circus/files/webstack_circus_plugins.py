"""Circus plugins the circus role installs beside circusd (Circus 0.19.0, tornado 6).

Flapping: Circus's own flapping plugin, with commands that reach circusd, that leaves
alone a watcher which still has lasting processes (see Flapping). The stock
plugin casts `stop` the moment circusd publishes a reaped process, while circusd is
still running the command that reaped it: circusd refuses it ("arbiter is already
running manage_watchers command") and, for a cast, answers nothing, so a crash-looping
watcher is almost never stopped. Here every command is a call, retried while circusd
is busy, and sent from the plugin's own loop (the stock retry timer's thread shared the
loop's ZeroMQ socket).

HttpObserver: restarts a watcher whose URL stops answering. circus.plugins.http_observer
gives tornado's HTTP client an io_loop argument and a callback, which tornado 5 and 6
refuse: it dies when it starts.

JournalStream: a watcher's output on circusd's stdout, which systemd keeps in circusd's
journal, each line led by the watcher's name (Circus's StdoutStream names nothing).
"""

import json
import sys
import time
import uuid

from circus import logger
from circus.client import make_message
from circus.commands.errors import COMMAND_ERROR
from circus.plugins import CircusPlugin, flapping
from tornado.httpclient import AsyncHTTPClient
from tornado.ioloop import PeriodicCallback

# How long a command is retried while circusd runs another one, and how long circusd
# may take to answer one.
BUSY_RETRY_SECONDS = 60
BUSY_PAUSE_SECONDS = 0.5
ANSWER_TIMEOUT_MS = 10000


class CommandsMixin:
    """Commands to circusd that are matched to their answer and retried while it is busy."""

    def call(self, command, **props):
        # circusd answers with the id it was given: a late answer is told apart.
        message = dict(make_message(command, **props), id=uuid.uuid4().hex)
        self.client.send(json.dumps(message).encode())
        while self.client.poll(ANSWER_TIMEOUT_MS):
            answer = json.loads(self.client.recv())
            if answer.get("id") == message["id"]:
                return answer
        return {"status": "error", "reason": f"circusd did not answer {command}"}

    def cast(self, command, **props):
        # Also called from the flapping plugin's timer thread: the loop's thread sends.
        deadline = time.monotonic() + BUSY_RETRY_SECONDS
        self.loop.add_callback(self.send_until_taken, command, props, deadline)

    def send_until_taken(self, command, props, deadline):
        answer = self.call(command, **props)
        if answer.get("status") == "ok":
            logger.info("%s %s: done", command, props.get("name", ""))
        elif answer.get("errno") == COMMAND_ERROR and time.monotonic() < deadline:
            self.loop.call_later(
                BUSY_PAUSE_SECONDS, self.send_until_taken, command, props, deadline
            )
        else:
            logger.error("%s %s failed: %s", command, props, answer.get("reason"))


class Flapping(CommandsMixin, flapping.Flapping):
    """Stops a watcher whose processes keep dying (options as circus.plugins.flapping).

    A death does not count while another process of the watcher has lived longer than the
    window plus circusd's checks: the watcher still serves. Circus's plugin would stop
    the whole watcher when a surge reload adds processes that die at once, the old ones
    that serve with them; here they serve on until the reload gives up.

    Only the death of a process that the plugin saw circusd spawn, and did not see it kill,
    counts. circusd publishes `kill` for a process it kills (a stop, a restart, a decr,
    a kill, by hand or by a deploy) before its `reap`: Circus's plugin took a restart's
    stops for flapping and stopped the watcher it had just started, for retry_in seconds.
    And a plugin that has just started (with circusd) may get a process's `reap` without
    its `kill`, published before the plugin listened: it saw that process's `spawn` no
    more than its `kill`, so the death does not count either (a stop in circusd's first
    second was taken for flapping, and the watcher started again).
    """

    def __init__(self, *args, **config):
        super().__init__(*args, **config)
        # Per watcher, the processes whose spawn this plugin saw and whose kill it did not.
        self.crashable = {}

    def handle_recv(self, data):
        watcher_name, action, msg = self.split_data(data)
        if action not in ("spawn", "kill", "reap"):
            super().handle_recv(data)
            return
        message = self.load_message(msg)
        pid = message.get("process_pid")
        crashable = self.crashable.setdefault(watcher_name, set())
        if action == "spawn":
            crashable.add(pid)
        elif action == "kill":
            crashable.discard(pid)
        elif pid in crashable:
            crashable.discard(pid)
            if not self.serves(watcher_name):
                # When circusd reaped the process, not when this plugin got to it after
                # asking circusd: Circus's plugin times its handling, which the call delays.
                reaped = message.get("time") or time.time()
                self.timelines.setdefault(watcher_name, []).append(float(reaped))
                self.check(watcher_name)

    def serves(self, watcher_name):
        conf = self.configs.get(watcher_name) or self.update_conf(watcher_name)
        lasting = float(self._get_conf(conf, "window")) + self.check_delay
        processes = self.call("stats", name=watcher_name).get("info", {}).values()
        return any(
            isinstance(process, dict) and float(process.get("age", 0)) > lasting
            for process in processes
        )


class HttpObserver(CommandsMixin, CircusPlugin):
    """Restarts the watcher restart_on_error when check_url has not answered with a
    status below 400 within timeout seconds in `failures` checks in a row, one check
    every loop_rate seconds."""

    name = "http_observer"

    def __init__(self, *args, **config):
        super().__init__(*args, **config)
        self.check_url = config.get("check_url", "http://localhost/")
        self.timeout = float(config.get("timeout", 10))
        self.loop_rate = float(config.get("loop_rate", 60))
        self.failures_allowed = int(config.get("failures", 1))
        self.restart_on_error = config.get("restart_on_error")
        self.failures = 0
        self.http_client = None
        self.period = None

    def handle_init(self):
        self.http_client = AsyncHTTPClient(force_instance=True)
        self.period = PeriodicCallback(self.look_after, self.loop_rate * 1000)
        self.period.start()

    def handle_stop(self):
        self.period.stop()
        self.http_client.close()

    def handle_recv(self, data):
        """Events do not matter here: only the URL's answers do."""

    async def look_after(self):
        try:
            response = await self.http_client.fetch(
                self.check_url, raise_error=False, request_timeout=self.timeout
            )
            error = response.error if response.code >= 400 or response.code < 100 else None
        except Exception as failure:  # any failure to answer counts
            error = failure
        if error is None:
            self.failures = 0
            return
        self.failures += 1
        logger.warning(
            "%s: %s (%d of %d)", self.check_url, error, self.failures, self.failures_allowed
        )
        if self.failures >= self.failures_allowed and self.restart_on_error:
            self.failures = 0
            self.cast("restart", name=self.restart_on_error)


class JournalStream:
    """Writes each line of a process's output to circusd's stdout as PREFIX[PID]: LINE."""

    def __init__(self, prefix="", **kwargs):
        self.prefix = prefix

    def __call__(self, data):
        text = data["data"]
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        pid = data.get("pid", "")
        sys.stdout.write("".join(f"{self.prefix}[{pid}]: {line}\n" for line in text.splitlines()))
        sys.stdout.flush()

    def close(self):
        """Nothing to close: circusd's stdout is its own."""

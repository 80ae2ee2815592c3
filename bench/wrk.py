"""wrk runs: a generated Lua script per (scenario, target), results read from its done() hook."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from bench.settings import OUT, log
from scripts.processes import run_quietly

SCRIPTS = OUT / "lua"

# Requests are pre-formatted once per thread; each thread cycles through its own slice of
# the list, so "many different ids" scenarios do not repeat an id across threads.
LUA_TEMPLATE = """
local reqs = %(requests)s
local headers = %(headers)s
local nthreads = %(threads)d
local created = 0
function setup(thread)
  thread:set("tid", created)
  created = created + 1
end
function init(args)
  prepared = {}
  local sliced = #reqs >= nthreads
  for i = 1, #reqs do
    if not sliced or (i - 1) %% nthreads == tid then
      local r = reqs[i]
      prepared[#prepared + 1] = wrk.format(r[1], r[2], headers, r[3])
    end
  end
  idx = 0
end
function request()
  idx = idx %% #prepared + 1
  return prepared[idx]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, ' ..
    '"mean_us": %%.1f, "connect": %%d, "read": %%d, "write": %%d, "status": %%d, ' ..
    '"timeout": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: str | None = None


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx/3xx responses plus socket errors other than reconnects

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def write_script(name: str, requests: list[Request], headers: dict[str, str],
                 threads: int) -> Path:
    SCRIPTS.mkdir(parents=True, exist_ok=True)
    rows = ",\n".join(
        "{" + ", ".join((_lua_string(r.method), _lua_string(r.path),
                         _lua_string(r.body) if r.body is not None else "nil")) + "}"
        for r in requests
    )
    head = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items())
    path = SCRIPTS / f"{name}.lua"
    path.write_text(LUA_TEMPLATE % {"requests": "{\n" + rows + "\n}",
                                    "headers": "{" + head + "}", "threads": threads})
    return path


def ensure_wrk() -> str:
    """wrk from Debian's packages; installed with apt-get when missing (the bench runs as root)."""
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk missing: apt-get install -y wrk")
    run_quietly(["apt-get", "update", "-qq"])
    run_quietly(["apt-get", "install", "-y", "-qq", "wrk"])
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk could not be installed")
    return found


def run_wrk(url: str, script: Path, seconds: int, connections: int, threads: int) -> Result:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
           "--timeout", "5s", "-s", str(script), url]
    out = run_quietly(cmd, timeout=seconds + 60, check=False).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out[-2000:]}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    # A sync gunicorn worker closes the connection after each response; wrk reconnects and
    # may count a read error at the close. Those are not failed requests.
    errors = data["status"] + data["timeout"] + data["connect"] + data["write"]
    return Result(data["requests"], data["duration_us"] / 1e6, data["p50_us"] / 1000,
                  data["p99_us"] / 1000, errors)

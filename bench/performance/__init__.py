"""Issue 14's benchmark: the project's full stack against a stock `rasa init` bot.

    python -m bench.performance            # or: make bench          (about 15 minutes)
    python -m bench.performance --quick    # or: make bench QUICK=1  (under 5 minutes)

In one run on this machine, one system at a time:

- stock Rasa: `rasa init --no-prompt` of the installed Rasa, trained once and cached in
  var/bench/stock-rasa/ (bench/stock_rasa.py), on the REST channel only, with Rasa's default
  in-memory tracker store and no action server;
- the project: the development stack as the end-to-end tests start it
  (`tests/e2e/conftest.running_stack`): account services, action server, Rasa with
  models/assistant.tar.gz on the portal channel, its SQL tracker store (SQLite) and Redis lock
  store; each conversation is a different seeded buyer of Acme (bench/load_people.py);
- production mode (full run only): `make run-prod`'s layout (tests/e2e/prod_stack.py) with the
  same load through nginx to one and to two Rasa replicas.

Measures closed-loop load (bench/load.py) at 1, 10 and 50 conversations on the small-talk mix
(both) and the account-question mix (project), latency by turn of one long conversation, cold
start to the first answer, training time and model size, peak memory of every process and
CPU per answered message. Checks issue 14's targets; when one is missed, samples the stacks of
the project's Rasa process under the same load to show where the time goes. Writes
bench/reports/performance.md (quick: performance-quick.md, so a quick run never replaces the
committed report) with PNG plots beside it.

The package, in the order a run uses it:

- plan.py: what one run measures (FULL, or QUICK) and the names every part shares;
- findings.py: what a run found, on its way from the measurements to the verdicts and the report;
- systems.py: the stock bot and the project's stack started and stopped, and the memory and
  CPU of their processes;
- measure.py: the load runs, the long conversation, training time, and the load under the
  profiler;
- production.py: production mode, through nginx to one and to two Rasa replicas;
- profile.py: the stack sampler inside the profiled Rasa process and what its samples say;
- goals.py: issue 14's targets, their verdicts, and the design change for a missed one;
- report.py and plots.py: the markdown report and the PNG plots beside it;
- __main__.py: one run in order (`measure`) and the command line (`main`).
"""

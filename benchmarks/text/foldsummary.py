#!/usr/bin/env python3
"""foldsummary.py REPORT.json...: one line per `sslpipe eval --folds K
--random-seeds N --json` report: the trained encoder's mean top-1 over the
folds (± standard error), the random-init networks' mean over the seeds
(± standard deviation across the seeds), the paired margin (per fold:
trained minus the seeds' mean on the same fold; mean ± standard error
over the folds), the margin over the run's own seed (the network training
started from), and the balanced top-1 (mean per-class top-1 of the pooled
predictions) of trained and random init. Figures in points (percent).

--random REF.json takes the random-init rows from REF for reports probed
with --no-random (the same probe set, --folds and --seed: the same folds;
the random-init rows depend only on the architecture and the seeds).
--mean adds a line with the mean over the reports (repeats of one run's
probe with other fold seeds: --seed 1, 2): trained, random init and margin,
each ± the standard error over the reports. A report of `--repeats R`
pairs its R x K folds the same way; its trained ± is then the standard
error across its R partitions (the same figure --mean gives from R
separate reports)."""
import json
import math
import sys


def mean_se(xs):
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, 0.0
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))
    return m, sd / math.sqrt(len(xs))


def main():
    print("%-28s %5s %14s %14s %14s %14s %9s %9s" % ("report", "n", "trained±se", "random±sd", "margin±se", "vs seed S", "bal tr", "bal rnd"))
    args = sys.argv[1:]
    ref = None
    pool = args[:1] == ["--mean"]
    if pool:
        args = args[1:]
    lines = []
    if args[:1] == ["--random"]:
        ref = json.load(open(args[1]))["results"]
        args = args[2:]
    for path in args:
        r = json.load(open(path))
        rows = r["results"]
        tr = next(x for x in rows if x["features"] == "trained")
        if not any(x["features"] == "random_init" for x in rows):
            rows = rows + [x for x in ref if x["features"].startswith("random_init")]
        seeds = [x for x in rows if x["features"] == "random_init"]
        mean = next((x for x in rows if x["features"] == "random_init_mean"), seeds[0])
        k = len(tr["fold_top1"])
        rnd_fold = [sum(s["fold_top1"][i] for s in seeds) / len(seeds) for i in range(k)]
        d, dse = mean_se([100 * (tr["fold_top1"][i] - rnd_fold[i]) for i in range(k)])
        d0, d0se = mean_se([100 * (tr["fold_top1"][i] - seeds[0]["fold_top1"][i]) for i in range(k)])
        bal = lambda x: 100 * sum(x["per_class"]) / len(x["per_class"])
        lines.append((100 * tr["top1"], 100 * mean["top1"], d))
        name = path.rsplit("/", 1)[-1].removesuffix(".json")
        print("%-28s %5d %7.2f ± %4.2f %7.2f ± %4.2f %+7.2f ± %4.2f %+7.2f ± %4.2f %9.2f %9.2f" % (
            name, r["train"]["n"], 100 * tr["top1"], 100 * tr.get("se", 0), 100 * mean["top1"], 100 * mean.get("sd", 0),
            d, dse, d0, d0se, bal(tr), bal(mean)))
    if pool:
        cols = [mean_se([x[i] for x in lines]) for i in range(3)]
        print("%-28s %5s %7.2f ± %4.2f %7.2f ± %4.2f %+7.2f ± %4.2f" % ("mean of %d reports" % len(lines), "", *cols[0], *cols[1], *cols[2]))


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# kfold-probe.sh NAME RUN TOKENIZER SET [flags]: the k-fold text probe of RUN; JSON to $OUT/NAME.json (default OUT=/tmp/textprobe/out), a summary to $OUT/NAME.txt, "user sys wall" seconds to $OUT/NAME.time.
# SET: 150 (the data2vec2.sh probe's 1,421 fortunes, train and test pooled) or all (every fortune of the 10 categories, 3,822).
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1 run=$2 tok=$3 set=$4; shift 4
F=/usr/share/games/fortunes
cats="art|computers|education|food|law|love|medicine|politics|science|sports"
case $set in
  150) spec="$F#per-class=150,seed=0,classes=$cats" ;;
  all) spec="$F#classes=$cats" ;;
esac
O=${OUT:-/tmp/textprobe/out}; mkdir -p "$O"
/usr/bin/time -f "%U %S %e" -o $O/$name.time nice -n 10 bin/sslpipe eval --run "$run" --train "$spec" --tokenizer "$tok" \
  --workers 1 --quiet --json "$@" > $O/$name.json
python3 - $O/$name.json > $O/$name.txt <<'PY'
import json,sys
r=json.load(open(sys.argv[1]))
print("folds", r.get("folds"), "n", r["train"]["n"])
for x in r["results"]:
    print("%-28s %-10s %6.2f sd %5.2f se %5.2f %s %s" % (x["label"]+(" s%d"%x["init_seed"] if "init_seed" in x else ""), x["setting"], 100*x["top1"], 100*x.get("sd",0), 100*x.get("se",0), x.get("fold_l2",""), " ".join("%.1f"%(100*v) for v in x.get("fold_top1",[]))))
PY
cat $O/$name.txt; echo "cpu: $(cat $O/$name.time)"

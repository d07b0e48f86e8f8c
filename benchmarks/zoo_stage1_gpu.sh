#!/usr/bin/env bash
# Candidates for zoo:stage1-embedded trained side by side on one GPU, each by the zoo's own recipe
# (`python -m vsr_lightning.zoo.train_stage1`) in a copy of this checkout with a cache of its own.
#
# A small network on a GPU is bound by kernel launches, not arithmetic, so four processes share one GPU
# at little cost each. Every variant is first timed for a few steps on random data (all at once, as
# they will run), then given the steps that fit TRAIN_SECONDS, in one cosine cycle (no phase 2).
#
#   OUT=results/ TRAIN_SECONDS=420 bash benchmarks/zoo_stage1_gpu.sh            # on a GPU machine
#   DEVICE=cpu STEPS=104 BATCH=2 PATCH=64 VARIANTS="tiny_stills" HELDOUT=3 OUT=/tmp/o bash benchmarks/zoo_stage1_gpu.sh  # smoke
#
# Wheels in ./.whl (Python packages the GPU machine lacks) are installed into /tmp/site first; the
# registry footage of the recipe may be put under ./.devcarry/footage/<clip>/<file> where nothing can be
# fetched. Each variant's published weights, manifest, report and log come back as $OUT/<variant>.tgz.
set -uo pipefail
REPO=$(pwd)
OUT=${OUT:?set OUT to a folder for the results}
DEVICE=${DEVICE:-gpu}
TRAIN_SECONDS=${TRAIN_SECONDS:-420}
BATCH=${BATCH:-16}
PATCH=${PATCH:-128}
WORKERS=${WORKERS:-3}
VARIANTS=${VARIANTS:-"tiny_plain tiny_stills w24_stills w32_stills"}  # the 2026-12-04 stills trial
HELDOUT=${HELDOUT:-50}  # frames of each held-out clip scored through enhance afterwards (0: none)
WORK=${WORK:-/tmp/zoo_stage1_gpu}
mkdir -p "$OUT" "$WORK"
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/summary.txt"; }

if [ -d .whl ] && [ -z "${NO_WHEELS:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 WANDB_MODE=disabled
PY=${PY:-python3}
log "python $($PY -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available())')"
[ "$DEVICE" = gpu ] && nvidia-smi -L | tee -a "$OUT/summary.txt"

# --- the data, built once by the project's own builders --------------------------------------------
export VSR_LIGHTNING_CACHE="$WORK/cache0"
mkdir -p "$VSR_LIGHTNING_CACHE/footage"
[ -d .devcarry/footage ] && cp -r .devcarry/footage/. "$VSR_LIGHTNING_CACHE/footage/"
$PY -m vsr_lightning.zoo.footage_dataset train > "$WORK/footage.log" 2>&1 &
$PY -c "from vsr_lightning.data.embedded import ensure_embedded_dataset as e; e(progress=False)" > "$WORK/embedded.log" 2>&1 &
$PY -m vsr_lightning.zoo.stills_motion > "$WORK/stills.log" 2>&1 &
wait || { tail -5 "$WORK"/*.log; exit 1; }
log "datasets built: $(ls "$VSR_LIGHTNING_CACHE")"

model_overrides() {  # the variant's network and flow settings (Hydra overrides)
  case $1 in
    tiny_*) ;;
    w24_*) echo "stage1.model.mid_channels=24 stage1.model.num_blocks=1 stage1.model.num_reconstruction_blocks=3" ;;
    w32_*) echo "stage1.model.mid_channels=32 stage1.model.num_blocks=2 stage1.model.num_reconstruction_blocks=3" ;;
  esac
  case $1 in
    *_flow) echo "stage1.flow_freeze_steps=1000" ;;
  esac
}

stills_flag() { case $1 in *_stills) echo "--stills" ;; esac; }  # variants named *_stills add the filmed stills

# --- steps per variant: a few timed steps on random data, all variants at once ---------------------
if [ -z "${STEPS:-}" ]; then
  for v in $VARIANTS; do
    BATCH=$BATCH PATCH=$PATCH $PY - "$v" $(model_overrides "$v") > "$WORK/probe_$v.txt" 2> "$WORK/probe_$v.err" <<'EOF' &
import sys, time, torch
from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
kw = dict(mid_channels=16, num_blocks=1, num_reconstruction_blocks=2, deform_groups=8, hr_channels=16)
for o in sys.argv[2:]:
    key, value = o.split("=")
    if key.startswith("stage1.model."):
        kw[key.split(".")[-1]] = int(value)
learn_flow = any(o.startswith("stage1.flow_freeze_steps") for o in sys.argv[2:])
net = BasicVSRPlusPlus(**kw, spynet_path="zoo:spynet").cuda()
net.spynet.requires_grad_(learn_flow)
opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], 1e-4)
import os
x = torch.rand(int(os.environ["BATCH"]), 7, 3, int(os.environ["PATCH"]), int(os.environ["PATCH"]), device="cuda")
for i in range(40):
    if i == 10:
        torch.cuda.synchronize(); t = time.perf_counter()
    loss = (net(x) - x).pow(2).mean(); opt.zero_grad(); loss.backward(); opt.step()
torch.cuda.synchronize()
print(30 / (time.perf_counter() - t))
EOF
  done
  wait
fi

# --- the recipe, one process per variant -------------------------------------------------------------
for v in $VARIANTS; do
  if [ -n "${STEPS:-}" ]; then steps=$STEPS; else
    rate=$(cat "$WORK/probe_$v.txt" 2>/dev/null)
    [ -n "$rate" ] || { rate=5; tail -3 "$WORK/probe_$v.err"; }  # a cautious guess where the probe failed
    steps=$($PY -c "print(max(300, int(float('$rate') * 0.7 * $TRAIN_SECONDS) // 100 * 100))")
    log "$v: probe $rate steps/s -> $steps steps"
  fi
  rm -rf "$WORK/repo_$v" "$WORK/cache_$v"
  mkdir -p "$WORK/repo_$v"
  tar -C "$REPO" --exclude=./.whl --exclude=./.devcarry --exclude=./.git --exclude=./.venv -cf - . | tar -C "$WORK/repo_$v" -xf -
  cp -r "$VSR_LIGHTNING_CACHE" "$WORK/cache_$v"
  accel="trainer=cpu"
  cap=$(( TRAIN_SECONDS * 11 / 10 ))  # Lightning stops there (then evaluates and saves) if the probe was optimistic
  [ "$DEVICE" = gpu ] && accel="trainer=gpu trainer.precision=32-true +trainer.max_time=$(printf '00:%02d:%02d:%02d' $(( cap / 3600 )) $(( cap % 3600 / 60 )) $(( cap % 60 )))"
  (
    cd "$WORK/repo_$v" && VSR_LIGHTNING_CACHE="$WORK/cache_$v" $PY -m vsr_lightning.zoo.train_stage1 --phase2-steps 0 $(stills_flag "$v") \
      $accel stage1.model.spynet_path=zoo:spynet $(model_overrides "$v") \
      stage1.max_steps=$steps stage1.val_every=$(( steps / 4 )) "stage1.optim.restart_periods=[$(( steps - 100 ))]" \
      stage1.batch_size=$BATCH data.patch=$PATCH data.num_workers=$WORKERS data.cache_frames=true \
      data.samples_per_epoch=1024 experiment.name=zoo_stage1_$v
    echo $? > "$WORK/rc_$v"
  ) > "$WORK/train_$v.log" 2>&1 &
done
wait

# --- held-out footage through enhance (stage one alone, and with the zoo refiner), one process each ---
if [ "$HELDOUT" -gt 0 ]; then
  for v in $VARIANTS; do
    r="$WORK/repo_$v"
    [ "$(cat "$WORK/rc_$v" 2>/dev/null)" = 0 ] || { log "$v: training failed, not scored"; continue; }
    ( cd "$r" && PYTHONPATH="$r${PYTHONPATH:+:$PYTHONPATH}" VSR_LIGHTNING_CACHE="$WORK/cache_$v" \
      timeout 300 $PY benchmarks/zoo_heldout.py --stage2 zoo --frames "$HELDOUT" --device "$( [ "$DEVICE" = gpu ] && echo cuda || echo cpu )" \
      --out "$r/heldout.md" ) > "$WORK/heldout_$v.log" 2>&1 &
  done
  wait
fi

# --- what comes back -------------------------------------------------------------------------------
for v in $VARIANTS; do
  r="$WORK/repo_$v"
  cp "$WORK/train_$v.log" "$r/train.log"
  cp "$WORK/heldout_$v.log" "$r/heldout.log" 2>/dev/null
  grep -h '"val_mean_gain"' "$WORK/train_$v.log" | sed "s/^/$v /" | tee -a "$OUT/summary.txt"
  [ -f "$r/heldout.md" ] && sed "s/^/$v /" "$r/heldout.md" | tee -a "$OUT/summary.txt"
  files=()
  for f in train.log heldout.log heldout.md vsr_lightning/zoo/manifest.json vsr_lightning/zoo/weights/stage1-embedded.pt \
    "experiments/zoo_stage1_$v"; do [ -e "$r/$f" ] && files+=("$f"); done
  tar -C "$r" -czf "$OUT/$v.tgz" "${files[@]}"
done
log "done"

#!/usr/bin/env bash
# The release gate: a published release is kept only when the model passes cvat-fn's suite.
# Runs the same on a laptop as in CI; talks to GitHub only through `gh`, to images only
# through `docker`.
#
#   RELEASE_TAG   the release's tag (e.g. v1.0.0); its assets are the weights
#   IMAGE         where the model's image goes, REGISTRY/NAME (e.g. ghcr.io/OWNER/REPO)
#   BASE_IMAGE    optional: build the model's image on this instead of the Dockerfile's default
#   REPORT_DIR    optional: where the reports go (default cvat-fn-report)
#   CVAT_FN_TEST_ARGS  optional: more options for cvat-fn test, e.g. "--budget p95_ms=800"
#   EVAL_DATASET  optional: a CVAT export (CVAT for images 1.1 or COCO 1.0, folder or zip) the
#                 model must not get worse on (default eval); no such path, no evaluation
#   CVAT_FN_EVAL_ARGS  optional: more options for cvat-fn eval, always, e.g. "--minimum map=0.3"
#   CVAT_FN_EVAL_BASELINE_ARGS  optional: for cvat-fn eval when there is a baseline,
#                 e.g. "--max-drop ap50=0.01" (default: no metric may drop by more than 0.005)
#
# The regression gate: when EVAL_DATASET exists, the model that passed the suite is evaluated on
# it (cvat-fn eval, on the same image) against eval.json of the newest other release that has
# one (found with gh release list / view / download); without one, only CVAT_FN_EVAL_ARGS'
# minimums apply. eval.json and eval.html are attached, so the next release compares with them.
#
# Exit 0: the image IMAGE:RELEASE_TAG is pushed, and function.yaml (pinned to its digest),
# report.html (and eval.json, eval.html) are attached to the release. Exit 1: the suite or the
# evaluation failed; nothing was pushed, the release and its tag are deleted. Any other failure
# (download, build, push, bad evaluation input) exits non-zero and leaves the release as it is,
# so it can be run again.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${RELEASE_TAG:?set RELEASE_TAG to the tag of the release, e.g. v1.0.0}"
: "${IMAGE:?set IMAGE to REGISTRY/NAME of the model image, e.g. ghcr.io/OWNER/REPO}"
REPORT_DIR="${REPORT_DIR:-cvat-fn-report}"
EVAL_DATASET="${EVAL_DATASET:-eval}"
ref="$IMAGE:$RELEASE_TAG"
# The gate tests the function as Nuclio builds it: its code copied into the image, never
# mounted from this checkout (the default on a laptop, where no CI variable is set).
export CVAT_FN_DOCKER_CODE=copy
log() { printf '[release %s %4ss] %s\n' "$RELEASE_TAG" "$SECONDS" "$*" >&2; }
verdict() { mkdir -p "$REPORT_DIR"; printf '%s\n' "$@" >>"$REPORT_DIR/verdict.md"; }

rm -rf "$REPORT_DIR" dist
mkdir -p "$REPORT_DIR" dist weights

log "downloading the release's assets into weights/"
gh release download "$RELEASE_TAG" --dir weights --clobber

log "building the model's image $ref"
build_args=()
if [[ -n ${BASE_IMAGE:-} ]]; then build_args=(--build-arg "BASE_IMAGE=$BASE_IMAGE"); fi
docker build "${build_args[@]}" --tag "$ref" .

log "testing the function built on $ref"
set +e
# shellcheck disable=SC2086  # CVAT_FN_TEST_ARGS is split into options on purpose
cvat-fn test . --runtime docker --base-image "$ref" --report-dir "$REPORT_DIR" \
  ${CVAT_FN_TEST_ARGS:-} 2>&1 | tee "$REPORT_DIR/test.log"
status=${PIPESTATUS[0]}
set -e

# The model failed: why ($1), what failed ($2), how ($3). Delete the release and its tag, exit 1.
reject() {
  log "FAILED: nothing pushed; deleting the release and its tag"
  gh release delete "$RELEASE_TAG" --cleanup-tag --yes
  verdict "## $RELEASE_TAG deleted" "" "$1, so nothing was pushed and the release" \
    "and its tag were deleted. ${2^}:" "" '```' "$3" '```'
  log "$2 (reports kept in $REPORT_DIR/):"
  printf '%s\n' "$3" >&2
  exit 1
}

# A failure that is not the model's (exit $1 of $2): keep the release so it can be run again.
cannot_run() {
  verdict "## $RELEASE_TAG: $2 could not run (exit $1)" "" \
    "Nothing was pushed and the release is kept; see $3, fix and run again."
  log "$2 could not run (exit $1): nothing pushed, the release is kept"
  exit "$1"
}

if [[ $status == 1 ]]; then
  reject "The suite failed" "failed checks" "$(cvat-fn verdict "$REPORT_DIR/report.json" 2>&1 || true)"
fi
[[ $status == 0 ]] || cannot_run "$status" "the suite" test.log

# baseline= the newest release other than this one with an eval.json attached, or nothing.
# A failing gh call stops the script (set -e), leaving the release alone.
find_baseline() {
  local listed tags tag assets
  baseline=
  # gh lists the newest first; drafts were never published, so never kept.
  listed=$(gh release list --exclude-drafts --limit 100 --json tagName)
  tags=$(python3 -c 'import json, sys; print(*(r["tagName"] for r in json.load(sys.stdin)))' \
    <<<"$listed")
  for tag in $tags; do
    [[ $tag != "$RELEASE_TAG" ]] || continue
    assets=$(gh release view "$tag" --json assets)
    if python3 -c 'import json, sys
sys.exit(all(a["name"] != "eval.json" for a in json.load(sys.stdin)["assets"]))' <<<"$assets"; then
      baseline=$tag
      return
    fi
  done
}

eval_reports=()
if [[ -e $EVAL_DATASET ]]; then
  eval_args=()
  find_baseline
  if [[ -n $baseline ]]; then
    log "baseline: eval.json of release $baseline"
    gh release download "$baseline" --pattern eval.json --dir "$REPORT_DIR/baseline" --clobber
    # shellcheck disable=SC2206  # split into options on purpose
    eval_args=(--baseline "$REPORT_DIR/baseline/eval.json" ${CVAT_FN_EVAL_BASELINE_ARGS:-})
  else
    log "no earlier release has an eval.json: no baseline, only the minimums of CVAT_FN_EVAL_ARGS"
  fi
  log "evaluating the function built on $ref on $EVAL_DATASET"
  set +e
  # shellcheck disable=SC2086  # CVAT_FN_EVAL_ARGS is split into options on purpose
  cvat-fn eval . --runtime docker --base-image "$ref" --dataset "$EVAL_DATASET" \
    --report-dir "$REPORT_DIR/eval" "${eval_args[@]}" ${CVAT_FN_EVAL_ARGS:-} 2>&1 \
    | tee "$REPORT_DIR/eval.log"
  status=${PIPESTATUS[0]}
  set -e
  if [[ $status == 1 ]]; then
    reject "The evaluation on $EVAL_DATASET failed" \
      "failed metrics${baseline:+ (baseline: eval.json of release $baseline)}" "$(sed -n 's/^cvat-fn eval: FAILED: //p' "$REPORT_DIR/eval.log")"
  fi
  [[ $status == 0 ]] || cannot_run "$status" "the evaluation" eval.log
  eval_reports=("$REPORT_DIR/eval/eval.json" "$REPORT_DIR/eval/eval.html")
fi

log "passed: pushing $ref"
docker push "$ref" | tee "$REPORT_DIR/push.log"
digest=$(sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/\1/p' "$REPORT_DIR/push.log" | tail -n 1)
[[ -n $digest ]] || { log "docker push printed no digest"; exit 3; }
cp function.yaml dist/function.yaml
cvat-fn pin dist/function.yaml --base-image "$IMAGE@$digest"
gh release upload "$RELEASE_TAG" dist/function.yaml "$REPORT_DIR/report.html" \
  "${eval_reports[@]}" --clobber
verdict "## $RELEASE_TAG kept" "" "The suite passed${eval_reports:+ and so did the evaluation}." \
  "Image: \`$IMAGE@$digest\`; function.yaml (pinned to it), report.html${eval_reports:+," \
  "eval.json and eval.html} are attached to the release."
log "kept: $IMAGE@$digest; function.yaml, report.html${eval_reports:+, eval.json, eval.html} attached"
exit 0

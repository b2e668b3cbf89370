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
#
# Exit 0: the image IMAGE:RELEASE_TAG is pushed, and function.yaml (pinned to its digest) and
# report.html are attached to the release. Exit 1: the suite failed; nothing was pushed, the
# release and its tag are deleted. Any other failure (download, build, push) exits non-zero and
# leaves the release as it is, so it can be run again.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${RELEASE_TAG:?set RELEASE_TAG to the tag of the release, e.g. v1.0.0}"
: "${IMAGE:?set IMAGE to REGISTRY/NAME of the model image, e.g. ghcr.io/OWNER/REPO}"
REPORT_DIR="${REPORT_DIR:-cvat-fn-report}"
ref="$IMAGE:$RELEASE_TAG"
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

if [[ $status == 0 ]]; then
  log "passed: pushing $ref"
  docker push "$ref" | tee "$REPORT_DIR/push.log"
  digest=$(sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/\1/p' "$REPORT_DIR/push.log" | tail -n 1)
  [[ -n $digest ]] || { log "docker push printed no digest"; exit 3; }
  cp function.yaml dist/function.yaml
  cvat-fn pin dist/function.yaml --base-image "$IMAGE@$digest"
  gh release upload "$RELEASE_TAG" dist/function.yaml "$REPORT_DIR/report.html" --clobber
  verdict "## $RELEASE_TAG kept" "" "The suite passed. Image: \`$IMAGE@$digest\`;" \
    "function.yaml (pinned to it) and report.html are attached to the release."
  log "kept: $IMAGE@$digest; function.yaml and report.html attached"
  exit 0
fi

if [[ $status != 1 ]]; then
  verdict "## $RELEASE_TAG: the suite could not run (exit $status)" "" \
    "Nothing was pushed and the release is kept; see test.log, fix and run again."
  log "the suite could not run (exit $status): nothing pushed, the release is kept"
  exit "$status"
fi

log "FAILED: nothing pushed; deleting the release and its tag"
gh release delete "$RELEASE_TAG" --cleanup-tag --yes
failed=$(cvat-fn verdict "$REPORT_DIR/report.json" 2>&1 || true)
verdict "## $RELEASE_TAG deleted" "" "The suite failed, so nothing was pushed and the release" \
  "and its tag were deleted. Failed checks:" "" '```' "$failed" '```'
log "failed checks (reports kept in $REPORT_DIR/):"
printf '%s\n' "$failed" >&2
exit 1

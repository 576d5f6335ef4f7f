#!/bin/sh
# Where helm and kubeconform are installed (they are not in the registries this project builds
# from, so the test suite renders the chart with test/helpers/helm-render.ts instead): lint the
# chart and validate what it renders, with the default values and with every optional object on.
set -eu
chart="$(dirname "$0")/../deploy/helm/smartpush-guard"
all="--set serviceMonitor.enabled=true --set redis.bundled.enabled=true"
helm lint "$chart"
# shellcheck disable=SC2086
helm lint "$chart" $all
for values in "" "$all"; do
  # shellcheck disable=SC2086
  helm template spg "$chart" --namespace smartpush $values \
    | kubeconform -strict -summary -ignore-missing-schemas -kubernetes-version 1.30.0
done
echo "helm lint and kubeconform: ok (ServiceMonitor needs the Prometheus Operator's schemas to be checked, else it is skipped)"

#!/bin/sh
# Install the StackWarden admission webhook without cert-manager:
#   1. make a private CA and a serving certificate for the Service (stackwarden admission certs),
#   2. store them in the stackwarden-admission-tls Secret,
#   3. apply the base manifests and wait for the webhook to be ready,
#   4. register the webhook with the CA filled into caBundle (last: nothing is checked, or
#      refused, before the webhook can answer).
# Needs kubectl and the stackwarden CLI. Re-running it rotates the certificates.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
namespace=stackwarden
service=stackwarden-admission
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

kubectl apply -f "$here/base/namespace.yaml"
ca_bundle=$(stackwarden admission certs --service "$service" --namespace "$namespace" --out "$work")
kubectl -n "$namespace" create secret tls stackwarden-admission-tls \
    --cert "$work/tls.crt" --key "$work/tls.key" --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -k "$here/base"
kubectl -n "$namespace" rollout status deployment/"$service" --timeout=180s
sed "s|\${CA_BUNDLE}|$ca_bundle|" "$here/webhook.yaml" | kubectl apply -f -
echo "StackWarden admission webhook installed (mode: see the stackwarden-admission-policy ConfigMap)"

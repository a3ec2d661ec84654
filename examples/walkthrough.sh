#!/usr/bin/env bash
# The guides' walk-through, POI -> MF -> LEMF on this machine, no root, from the shipped
# configuration (examples/config/mf.yaml). Run it from the repository:
#   examples/walkthrough.sh [WORKDIR]
# Each step is one of the commands docs/guides/*.md show (tests/system/test_walkthrough.py
# runs this script and checks the guides quote it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
li="${LI:-li}"
work="${1:-$(mktemp -d)}"
mkdir -p "$work" && cd "$work"
pids=()
stop() {  # the MF first (the last started), then the LEMFs: each ends cleanly
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  pids=()
}
trap stop EXIT

# 1. A lab PKI (not for production) and the MF configuration, checked before anything runs.
$li pki init pki
install -m 600 "$here/config/mf.yaml" mf.yaml   # it names LIIDs: owner only
$li config check mf.yaml

# 2. An HI key per LEA: the MF's copy wrapped by its key store, the LEMF's copy in clear.
#    (mf.yaml's lab key store is a file sealed by a passphrase from the environment.)
export LI_KEYSTORE_PASSPHRASE="${LI_KEYSTORE_PASSPHRASE:-a lab passphrase, not for production}"
$li keys init --backend software --file mf-keys.json
$li mf keygen --config mf.yaml --lea LEA-A --lemf-key lea-a.key
$li mf keygen --config mf.yaml --lea LEA-OPENLI --lemf-key lea-openli.key

# 3. The two LEMFs (LEA-A: each LIID in its own files; LEA-OPENLI: the openli preset's cipher).
mkdir -p lea-a lea-openli
$li lemf --listen 127.0.0.1:9444 --cert pki/lemf.pem --key pki/lemf.key --ca pki/lab-ca.pem \
  --key-file lea-a.key --pcap 'lea-a/cc-{liid}.pcap' --iri 'lea-a/iri-{liid}.jsonl' \
  --status-file lea-a/status.json --quiet &
pids+=($!)
$li lemf --listen 127.0.0.1:9445 --cert pki/lemf.pem --key pki/lemf.key --ca pki/lab-ca.pem \
  --key-file lea-openli.key --encryption aES-192-CBC \
  --pcap lea-openli/cc.pcap --iri lea-openli/iri.jsonl --quiet &
pids+=($!)

# 4. The MF: X2/X3 in on 9443, HI2/HI3 out to both LEAs, counters in a status file.
$li mf run --config mf.yaml --status-file mf-status.json --quiet &
pids+=($!)
for _ in $(seq 100); do [ -s mf-status.json ] && break; sleep 0.2; done

# 5. A POI replays a capture for the task's XID and target; it ends when all is delivered.
$li poi --pcap "$here/data/subscribers.pcap" --target 10.77.0.2 \
  --xid 8b1c2f0e-2d4c-4e55-9a57-2f0c9b8e6a11 \
  --mf 127.0.0.1:9443 --cert pki/poi.pem --key pki/poi.key --ca pki/lab-ca.pem --quiet

# 6. Wait until LEA-A's LEMF has the CC, then read what it wrote.
for _ in $(seq 150); do
  grep -q '"cc_packets": [1-9]' lea-a/status.json 2>/dev/null && break; sleep 0.2
done
stop; trap - EXIT
echo "LEA-A's CC: $(ls lea-a/cc-*.pcap)"
cat lea-a/status.json; echo

# 7. What the POI sends, read as an analyst would (li decode; tshark's 5gli reads it too).
$li poi --pcap "$here/data/subscribers.pcap" --target 10.77.0.2 \
  --xid 8b1c2f0e-2d4c-4e55-9a57-2f0c9b8e6a11 --output x2x3.bin --quiet
$li decode --fields seq,kind,direction,summary --kind x3 --seq 0-2 x2x3.bin

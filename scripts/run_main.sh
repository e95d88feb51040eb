#!/usr/bin/env bash
# README command 1: set up, build, and run the main job on the embedded default problem
# (Llama-3-8B attention: 32 heads, 8 kv heads, head dim 128, causal, 131072 tokens on 8 GPUs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_debian.sh
scripts/build.sh
scripts/main_job.sh

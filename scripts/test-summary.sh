#!/usr/bin/env bash
# Totals the "test result:" lines of a cargo test log into one closing line.
set -euo pipefail
awk '/^test result:/ {
       for (i = 1; i <= NF; i++) {
         if ($(i) ~ /^passed;?$/) passed += $(i - 1)
         if ($(i) ~ /^failed;?$/) failed += $(i - 1)
       }
       suites++
     }
     END {
       printf "Lifeboat: %d test suites\n", suites
       printf "Total: %d passed, %d failed\n", passed, failed
       exit (failed > 0 || passed == 0)
     }' "$1"

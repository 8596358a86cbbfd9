#!/bin/sh
# Reference pseudonyms for tests/test_pseudonymise.py, computed with OpenSSL
# (independent of Python's hmac): PS- + first 16 hex digits of
# HMAC-SHA-256(key, "child_id" NUL id); PP- for "plan_id" NUL child NUL plan.
KEY=0123456789abcdefghijklmnopqrstuv
for id in C000001 A 児童0001; do
  printf '%s\t' "$id"
  printf 'child_id\000%s' "$id" | openssl dgst -sha256 -hmac "$KEY" | sed 's/.*= //' | cut -c1-16
done
printf 'A/P1\t'
printf 'plan_id\000A\000P1' | openssl dgst -sha256 -hmac "$KEY" | sed 's/.*= //' | cut -c1-16

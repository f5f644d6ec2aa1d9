#!/bin/sh
# Synthesizes the test utterances (16 kHz, 16-bit mono PCM) with espeak-ng and sox.
# Run from audio/testdata: sh make_wavs.sh
set -e
synth() { # name voice speed pitch text
  espeak-ng -v "$2" -s "$3" -p "$4" -w /tmp/sslpipe_$1.wav "$5"
  sox -R /tmp/sslpipe_$1.wav -r 16000 -b 16 -c 1 "$1.wav"
  rm -f /tmp/sslpipe_$1.wav
}
synth utt1 en+f3 150 60 "The quick brown fox jumps."
synth utt2 en+m1 190 35 "Self supervised learning needs no labels."
synth utt3 en-us+f2 120 70 "Seven."
synth utt4 en+m3 170 50 "Hidden units are learned by clustering."

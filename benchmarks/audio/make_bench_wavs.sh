#!/bin/sh
# Writes the benchmark set: 8 espeak-ng utterances of about 10-16 s each
# (LibriSpeech-like lengths), 16 kHz 16-bit mono, into DIR (not committed).
# Usage: sh benchmarks/audio/make_bench_wavs.sh /tmp/sslpipe_bench_wavs
set -e
dir=${1:?usage: make_bench_wavs.sh DIR}
mkdir -p "$dir"
text1="Self supervised learning trains a network on unlabeled data by asking it to predict one part of its input from another part. For speech, the model hides spans of the audio and learns to guess discrete units there."
text2="The hidden units of the first iteration come from clustering mel frequency cepstral coefficients with k means, and later iterations cluster the features of the model itself, which gives better targets."
text3="A feature pipeline must be fast enough that the accelerator never waits for data, deterministic so that experiments can be repeated, and exact so that results match the reference implementation."
text4="Thirty seven clusters were found in the first pass, then one hundred in the second; the labels were written at fifty frames per second after downsampling from one hundred."
i=0
for v in en+f3:150:60 en+m1:175:35 en-us+f2:140:70 en+m3:190:50 en+f4:165:55 en-us+m2:155:40 en+m7:145:45 en+f1:180:65; do
  voice=${v%%:*}; rest=${v#*:}; speed=${rest%%:*}; pitch=${rest#*:}
  case $((i % 4)) in 0) t=$text1;; 1) t=$text2;; 2) t=$text3;; 3) t=$text4;; esac
  espeak-ng -v "$voice" -s "$speed" -p "$pitch" -w "$dir/tmp.wav" "$t"
  sox -R "$dir/tmp.wav" -r 16000 -b 16 -c 1 "$dir/long$i.wav"
  i=$((i + 1))
done
rm -f "$dir/tmp.wav"
soxi -D "$dir"/long*.wav

// gpt2_ref.js — the reference GPT-2 encoder (npm gpt-3-encoder) as a filter:
// `node gpt2_ref.js FILE...` prints, for each FILE, its token ids
// space-separated on one line. SG_GPT2_ENCODER_DIR, if set, is a copy of the
// package whose encoder.json/vocab.bpe hold another vocabulary.
//
// gpt-3-encoder's encode() grows its result with Array.concat, which is
// quadratic in the length of the text, so long text is fed to it in chunks cut
// just before a whitespace character that follows a non-whitespace one. No
// pre-token of GPT-2's regex spans such a point and none of its alternatives
// looks behind, so the ids are exactly those of the whole text at once.
const fs = require('fs');
const path = require('path');
const root = process.env.SG_ROOT || path.join(__dirname, '..', '..');
const { encode } = require(process.env.SG_GPT2_ENCODER_DIR || path.join(root, 'node_modules', 'gpt-3-encoder'));

function encodeLong(text) {
  const out = [];
  const CHUNK = 4096;
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + CHUNK, text.length);
    if (end < text.length) {
      const re = /\S(?=\s)/gu;
      re.lastIndex = end;
      const m = re.exec(text);
      end = m ? m.index + m[0].length : text.length;
    }
    for (const id of encode(text.slice(start, end))) out.push(id);
    start = end;
  }
  return out;
}

const lines = [];
for (const file of process.argv.slice(2)) lines.push(encodeLong(fs.readFileSync(file, 'utf8')).join(' '));
process.stdout.write(lines.join('\n') + '\n');

// server_openai.mjs — the official `openai` npm client against a running
// `stagegate serve` (started by server_openai.sh): completions, streaming,
// error classes and 429 handling. Exits non-zero on the first failed check.
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';

const { default: OpenAI } = await import(pathToFileURL(process.env.OPENAI_MODULE).href);
const baseURL = process.env.BASE + '/v1';
const client = (key, opts = {}) => new OpenAI({ apiKey: key, baseURL, maxRetries: 0, timeout: 60000, ...opts });
const dev = client(process.env.DEV_KEY);
let passed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    console.log(`FAIL ${name}: ${e.stack || e}`);
    process.exit(1);
  }
}

await check('models.list returns what the key may use', async () => {
  const ids = [];
  for await (const m of dev.models.list()) ids.push(m.id);
  assert.deepEqual(ids.sort(), ['big', 'slow', 'tiny']);
});

let greedy;
await check('completions.create', async () => {
  const r = await dev.completions.create({ model: 'tiny', prompt: 'The state of the union is', max_tokens: 10, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.match(r.id, /^cmpl-/);
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 10);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 10);
  assert.ok(r.choices[0].text.length > 0);
  greedy = r.choices[0].text;
});

await check('withResponse exposes the rate-limit headers', async () => {
  const { data, response } = await dev.completions
    .create({ model: 'tiny', prompt: 'Hi', max_tokens: 2 })
    .withResponse();
  assert.equal(data.choices.length, 1);
  assert.ok(Number(response.headers.get('x-ratelimit-remaining-tokens')) >= 0);
  assert.ok(response.headers.get('x-ratelimit-limit-requests'));
});

await check('n, a list of prompts, seed and logprobs', async () => {
  const a = await dev.completions.create({ model: 'tiny', prompt: ['one', 'two'], n: 2, max_tokens: 3, seed: 7, logprobs: 2 });
  assert.deepEqual(a.choices.map((c) => c.index), [0, 1, 2, 3]);
  assert.equal(a.choices[0].logprobs.tokens.length, 3);
  assert.equal(Object.keys(a.choices[0].logprobs.top_logprobs[0]).length, 2);
  const b = await dev.completions.create({ model: 'tiny', prompt: ['one', 'two'], n: 2, max_tokens: 3, seed: 7, logprobs: 2 });
  assert.deepEqual(b.choices.map((c) => c.text), a.choices.map((c) => c.text));
});

await check('streaming gives the same text and usage at the end', async () => {
  const stream = await dev.completions.create({
    model: 'tiny', prompt: 'The state of the union is', max_tokens: 10, temperature: 0,
    stream: true, stream_options: { include_usage: true },
  });
  let text = '', finish = null, usage = null, chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'text_completion');
    for (const c of chunk.choices) {
      text += c.text;
      if (c.finish_reason) finish = c.finish_reason;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(chunks >= 2);
  assert.equal(text, greedy);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 10);
});

await check('unknown key: AuthenticationError (401)', async () => {
  await assert.rejects(
    client('sg-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA').completions.create({ model: 'tiny', prompt: 'x' }),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === 'invalid_api_key');
});

await check('audience not served: PermissionDeniedError (403) naming model and stage', async () => {
  await assert.rejects(
    client(process.env.PARTNER_KEY).completions.create({ model: 'tiny', prompt: 'x' }),
    (e) => e instanceof OpenAI.PermissionDeniedError && /tiny/.test(e.message) && /Internal Alpha/.test(e.message));
});

await check('unknown model: NotFoundError (404)', async () => {
  await assert.rejects(dev.completions.create({ model: 'nope', prompt: 'x' }),
    (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
});

await check('bad parameter: BadRequestError (400) with param', async () => {
  await assert.rejects(dev.completions.create({ model: 'tiny', prompt: 'x', temperature: 7 }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'temperature');
});

const limited = client(process.env.LIMITED_KEY);
await check('429: RateLimitError with retry-after and x-ratelimit headers', async () => {
  await limited.completions.create({ model: 'tiny', prompt: 'Hello', max_tokens: 1 });
  await limited.completions.create({ model: 'tiny', prompt: 'Hello', max_tokens: 1 });
  await assert.rejects(limited.completions.create({ model: 'tiny', prompt: 'Hello', max_tokens: 1 }), (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError);
    assert.equal(e.status, 429);
    assert.equal(e.code, 'rate_limit_exceeded');
    assert.ok(Number(e.headers.get('retry-after')) >= 1);
    assert.equal(e.headers.get('x-ratelimit-limit-requests'), '2');
    assert.equal(e.headers.get('x-ratelimit-remaining-requests'), '0');
    return true;
  });
});

const refusals = async () => {
  const text = await (await fetch(process.env.BASE + '/metrics')).text();
  return text.split('\n').filter((l) => l.startsWith('stagegate_rate_limited_total{'))
    .reduce((sum, l) => sum + Number(l.split(' ')[1]), 0);
};
await check('429 with retries: the client honours retry-after and then succeeds', async () => {
  // tpm 600 refills 10 tokens per second. Drain the bucket with requests of
  // 5 x (118 prompt tokens + 1) until its header says fewer than 20 tokens are
  // left (on a slow machine the first drain may take long enough to refill), so
  // the next request (1 + 40 tokens) must be refused for about 2 s or more,
  // then admitted on a retry. No assumption about how long a request takes.
  const retrying = client(process.env.RETRY_KEY, { maxRetries: 6 });
  for (let left = Infinity; left >= 20;) {
    const { response } = await retrying.completions
      .create({ model: 'tiny', prompt: Array(118).fill(464), n: 5, max_tokens: 1 })
      .withResponse();
    left = Number(response.headers.get('x-ratelimit-remaining-tokens'));
  }
  const before = await refusals();
  const r = await retrying.completions.create({ model: 'tiny', prompt: 'b', max_tokens: 40 });
  assert.equal(r.choices.length, 1);
  assert.ok((await refusals()) > before, 'the first attempt should have been refused');
});

console.log(`${passed} checks passed`);

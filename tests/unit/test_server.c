/* test_server.c — the server's building blocks without HTTP: UTF-8
 * validation, completion request validation, metrics rendering, and the
 * scheduler (continuous batching, cancel, deadlines, bounded queue) over a
 * small random GPT-2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/init.h"
#include "base/log.h"
#include "base/utf8.h"
#include "engine/checkpoint.h"
#include "engine/generate.h"
#include "engine/gpt2.h"
#include "server/api_error.h"
#include "server/audit_sink.h"
#include "server/http.h"
#include "server/metrics.h"
#include "server/openai.h"
#include "server/request.h"
#include "server/scheduler.h"

static void utf8_validation(void **state) {
    (void)state;
    size_t bad = 99;
    assert_true(sg_utf8_valid("plain ascii", 11, &bad));
    assert_true(sg_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, &bad));
    assert_false(sg_utf8_valid("ab\xc3", 3, &bad)); /* truncated */
    assert_int_equal(bad, 2);
    assert_false(sg_utf8_valid("\xc0\xaf", 2, &bad)); /* overlong '/' */
    assert_int_equal(bad, 0);
    assert_false(sg_utf8_valid("x\xed\xa0\x80", 4, &bad)); /* a surrogate */
    assert_int_equal(bad, 1);
    assert_false(sg_utf8_valid("\xf4\x90\x80\x80", 4, &bad)); /* > U+10FFFF */
    assert_false(sg_utf8_valid("a\xff", 2, &bad));
    assert_int_equal(bad, 1);
    assert_false(sg_utf8_valid("\xe2\x28\xa1", 3, &bad)); /* bad continuation */
}

/* The parser's error as the assertions read it: its parameter and message. */
typedef struct {
    char message[SG_REQ_MESSAGE_MAX];
    char param[SG_REQ_PARAM_MAX];
} request_error;

/* sg_completion_request_parse as 0 or -1 with *e filled. */
static int parse_root(json_t *root, sg_completion_request *r, request_error *e) {
    sg_api_error *err = sg_completion_request_parse(root, r);
    if (!err) return 0;
    assert_int_equal(err->status, 400);
    snprintf(e->message, sizeof e->message, "%s", sg_api_error_message(err));
    snprintf(e->param, sizeof e->param, "%s", err->param ? err->param : "");
    sg_api_error_free(err);
    return -1;
}

static int parse(const char *json, sg_completion_request *r, request_error *e) {
    json_error_t jerr;
    json_t *root = json_loads(json, 0, &jerr);
    assert_non_null(root);
    int rc = parse_root(root, r, e);
    sg_completion_request_clear(r);
    json_decref(root);
    return rc;
}

static void request_defaults_and_shapes(void **state) {
    (void)state;
    sg_completion_request r;
    request_error e;
    json_t *root = json_loads("{\"model\":\"m\",\"prompt\":\"hi\"}", 0, NULL);
    assert_int_equal(parse_root(root, &r, &e), 0);
    assert_string_equal(r.model, "m");
    assert_int_equal(r.max_tokens, 16);
    assert_true(r.temperature == 1.0 && r.top_p == 1.0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.logprobs, -1);
    assert_int_equal(r.n_prompts, 1);
    assert_string_equal(r.prompts[0].text, "hi");
    sg_completion_request_clear(&r);
    json_decref(root);

    root =
        json_loads("{\"model\":\"m\",\"prompt\":[[1,2,3],\"x\",[4]],\"n\":2,\"stop\":[\"a\",\"bc\"],"
                   "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"seed\":5,\"logprobs\":0}",
                   0, NULL);
    assert_int_equal(parse_root(root, &r, &e), 0);
    assert_int_equal(r.n_prompts, 3);
    assert_int_equal(r.prompts[0].n_ids, 3);
    assert_int_equal(r.prompts[0].ids[2], 3);
    assert_string_equal(r.prompts[1].text, "x");
    assert_int_equal(r.prompts[2].ids[0], 4);
    assert_int_equal(r.n_stop, 2);
    assert_int_equal(r.stop_len[1], 2);
    assert_true(r.stream && r.include_usage && r.has_seed && r.seed == 5 && r.logprobs == 0);
    sg_completion_request_clear(&r);
    json_decref(root);

    root = json_loads("{\"model\":\"m\",\"prompt\":[7,8]}", 0, NULL);
    assert_int_equal(parse_root(root, &r, &e), 0);
    assert_int_equal(r.n_prompts, 1);
    assert_int_equal(r.prompts[0].n_ids, 2);
    sg_completion_request_clear(&r);
    json_decref(root);
}

static void request_errors_name_the_parameter(void **state) {
    (void)state;
    static const struct {
        const char *json, *param, *needle;
    } cases[] = {
        {"{\"prompt\":\"x\"}", "model", "model"},
        {"{\"model\":\"m\",\"max_tokens\":0}", "max_tokens", "between 1"},
        {"{\"model\":\"m\",\"max_tokens\":2.5}", "max_tokens", "integer"},
        {"{\"model\":\"m\",\"temperature\":2.01}", "temperature", "between 0 and 2"},
        {"{\"model\":\"m\",\"temperature\":\"hot\"}", "temperature", "a number, not a string"},
        {"{\"model\":\"m\",\"top_p\":0}", "top_p", "greater than 0"},
        {"{\"model\":\"m\",\"n\":17}", "n", "between 1 and 16"},
        {"{\"model\":\"m\",\"logprobs\":6}", "logprobs", "between 0 and 5"},
        {"{\"model\":\"m\",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", "stop", "at most 4"},
        {"{\"model\":\"m\",\"stop\":[\"\"]}", "stop", "non-empty"},
        {"{\"model\":\"m\",\"prompt\":[]}", "prompt", "empty"},
        {"{\"model\":\"m\",\"prompt\":[1,\"a\"]}", "prompt", "token 1"},
        {"{\"model\":\"m\",\"prompt\":[true]}", "prompt", "prompt 0"},
        {"{\"model\":\"m\",\"stream\":1}", "stream", "boolean"},
        {"{\"model\":\"m\",\"stream_options\":{\"include_usage\":true}}", "stream_options", "only allowed"},
        {"{\"model\":\"m\",\"best_of\":3}", "best_of", "not supported"},
        {"{\"model\":\"m\",\"frobnicate\":1}", "frobnicate", "unrecognized"},
        {"{\"model\":\"m\",\"prompt\":[\"a\",\"b\",\"c\",\"d\",\"e\"],\"n\":16}", "n", "exceeds"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sg_completion_request r;
        request_error e;
        if (parse(cases[i].json, &r, &e) != -1) fail_msg("accepted %s", cases[i].json);
        if (strcmp(e.param, cases[i].param) || !strstr(e.message, cases[i].needle))
            fail_msg("%s: param '%s', message '%s'", cases[i].json, e.param, e.message);
    }
    sg_completion_request r;
    request_error e;
    json_t *arr = json_array();
    assert_int_equal(parse_root(arr, &r, &e), -1);
    assert_non_null(strstr(e.message, "JSON object"));
    json_decref(arr);
}

/* The audit log stores each decision as the text it always has: the enum
 * must map to exactly these (existing logs and `stagegate audit` read them). */
static void audit_decisions_keep_their_stored_names(void **state) {
    (void)state;
    static const struct {
        sg_audit_sink_decision d;
        const char *name;
    } names[] = {
        {SG_AUDIT_ALLOWED, "allowed"},
        {SG_AUDIT_FILTERED, "filtered"},
        {SG_AUDIT_HARDCODED, "hardcoded"},
        {SG_AUDIT_INVALID, "invalid"},
        {SG_AUDIT_ERROR, "error"},
        {SG_AUDIT_CANCELLED, "cancelled"},
        {SG_AUDIT_TIMEOUT, "timeout"},
        {SG_AUDIT_UNAUTHENTICATED, "401"},
        {SG_AUDIT_FORBIDDEN, "403"},
        {SG_AUDIT_NOT_FOUND, "404"},
        {SG_AUDIT_RATE_LIMITED, "429"},
        {SG_AUDIT_OVERLOADED, "503"},
        {SG_AUDIT_MODERATION, "moderation"},
        {SG_AUDIT_DETECTION, "detection"},
        {SG_AUDIT_FLAGGED, "flagged"},
        {SG_AUDIT_FLAG_UPHELD, "flag_upheld"},
        {SG_AUDIT_FLAG_DISMISSED, "flag_dismissed"},
        {SG_AUDIT_SUSPENDED, "suspended"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_string_equal(sg_audit_sink_decision_name(names[i].d), names[i].name);
    assert_null(sg_audit_sink_decision_name(SG_AUDIT_NONE));
    assert_null(sg_audit_sink_decision_name((sg_audit_sink_decision)999));
}

/* An error value carries what the answer and its audit record need. */
static void api_error_carries_status_type_param_and_decision(void **state) {
    (void)state;
    sg_api_error *e = sg_api_error_new(429, "tokens", NULL, "rate_limit_exceeded", SG_AUDIT_RATE_LIMITED,
                                       "rate limit reached for key %d", 7);
    assert_int_equal(e->status, 429);
    assert_string_equal(e->type, "tokens");
    assert_null(e->param);
    assert_string_equal(e->code, "rate_limit_exceeded");
    assert_int_equal(e->decision, SG_AUDIT_RATE_LIMITED);
    assert_true(e->counted);
    assert_string_equal(sg_api_error_message(e), "rate limit reached for key 7");
    assert_string_equal(sg_api_error_reason(e), "rate limit reached for key 7");
    sg_api_error_set_reason(e, "rate limit (hardcoded response)");
    assert_string_equal(sg_api_error_reason(e), "rate limit (hardcoded response)");
    assert_string_equal(sg_api_error_message(e), "rate limit reached for key 7");
    sg_api_error_free(e);

    char long_param[100];
    memset(long_param, 'p', sizeof long_param - 1);
    long_param[sizeof long_param - 1] = 0;
    e = sg_api_error_new(400, SG_API_INVALID_REQUEST, long_param, NULL, SG_AUDIT_NONE, "%s", "x");
    assert_string_equal(e->param, long_param); /* the guard's routes name any key in full */
    assert_false(e->counted);
    assert_null(sg_api_error_counted(e)->code);
    assert_true(e->counted);
    sg_api_error_free(e);
}

/* Token bytes need not be whole characters; the JSON string must be. */
static void openai_text_replaces_invalid_utf8(void **state) {
    (void)state;
    json_t *j = sg_openai_text("ab\xe2\x82"
                               "cd\xff",
                               7);
    assert_string_equal(json_string_value(j), "ab\xEF\xBF\xBD"
                                              "cd\xEF\xBF\xBD");
    json_decref(j);
    j = sg_openai_text("caf\xc3\xa9", 5);
    assert_string_equal(json_string_value(j), "caf\xc3\xa9");
    json_decref(j);
    json_t *err = sg_openai_error("invalid_request_error", "model", NULL, "bad \xff");
    assert_string_equal(json_string_value(json_object_get(json_object_get(err, "error"), "message")),
                        "invalid request");
    assert_true(json_is_null(json_object_get(json_object_get(err, "error"), "code")));
    json_decref(err);
}

static void metrics_render(void **state) {
    (void)state;
    sg_metrics *m = sg_metrics_new();
    sg_metrics_request(m, 200, "internal_devs", 5, 7, 0.003);
    sg_metrics_request(m, 200, "internal_devs", 1, 2, 0.2);
    sg_metrics_request(m, 429, "pub\"lic", 0, 0, 0.0005);
    sg_metrics_rate_limited(m, "pub\"lic");
    sg_metrics_add_queue(m, 2);
    sg_metrics_add_batch(m, 3);
    char *t = sg_metrics_render(m);
    assert_non_null(strstr(t, "stagegate_requests_total{status=\"200\",audience=\"internal_devs\"} 2\n"));
    assert_non_null(strstr(t, "stagegate_requests_total{status=\"429\",audience=\"pub_lic\"} 1\n"));
    assert_non_null(strstr(t, "stagegate_rate_limited_total{audience=\"pub_lic\"} 1\n"));
    assert_non_null(strstr(t, "stagegate_prompt_tokens_total 6\n"));
    assert_non_null(strstr(t, "stagegate_completion_tokens_total 9\n"));
    assert_non_null(strstr(t, "stagegate_queue_depth 2\n"));
    assert_non_null(strstr(t, "stagegate_batch_size 3\n"));
    assert_non_null(strstr(t, "stagegate_request_duration_seconds_bucket{le=\"0.001\"} 1\n"));
    assert_non_null(strstr(t, "stagegate_request_duration_seconds_bucket{le=\"0.005\"} 2\n"));
    assert_non_null(strstr(t, "stagegate_request_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(t, "stagegate_request_duration_seconds_count 3\n"));
    free(t);
    sg_metrics_free(m);
}

/* ---- scheduler over a small random model ---------------------------------- */

typedef struct {
    sg_gpt2_weights *w;
    sg_gpt2 *model;
} fixture;

static int setup_model(void **state) {
    fixture *f = calloc(1, sizeof *f);
    sg_gpt2_config c = {.n_layer = 2,
                        .n_head = 2,
                        .n_embd = 32,
                        .n_ctx = 1024,
                        .vocab_size = 97,
                        .n_inner = 128,
                        .ln_epsilon = 1e-5f};
    if (sg_gpt2_weights_alloc(&c, &f->w)) return -1;
    sg_gpt2_weights_init_random(f->w, 11);
    if (sg_gpt2_new(f->w, 2, &f->model)) return -1;
    *state = f;
    return 0;
}

static int teardown_model(void **state) {
    fixture *f = *state;
    sg_gpt2_free(f->model);
    sg_gpt2_weights_free(f->w);
    free(f);
    return 0;
}

static sg_generation_params greedy(int max_tokens) {
    sg_generation_params p = {0};
    p.max_tokens = max_tokens;
    p.sampling.temperature = 0;
    p.sampling.top_p = 1;
    p.eot_token = -1;
    return p;
}

static void wait_done(sg_job *job) {
    sg_job_lock(job);
    double t0 = sg_monotonic_s();
    while (!sg_job_done(job) && sg_monotonic_s() - t0 < 30) sg_job_wait(job, 20);
    assert_true(sg_job_done(job));
    sg_job_unlock(job);
}

static void scheduler_batches_and_matches_alone(void **state) {
    fixture *f = *state;
    sg_metrics *m = sg_metrics_new();
    sg_sched *s;
    assert_null(sg_sched_new(f->model, 8, m, &s));
    assert_int_equal(sg_sched_capacity(s), 2);
    const int prompt_a[] = {1, 2, 3}, prompt_b[] = {5, 6};
    sg_generation_params p10 = greedy(10), p4 = greedy(4);

    /* Alone. */
    sg_job *alone = sg_job_new(1, 0);
    assert_null(sg_job_set_seq(alone, 0, prompt_a, 3, &p10));
    assert_int_equal(sg_sched_submit(s, alone), SG_SUBMIT_OK);
    wait_done(alone);
    const sg_job_seq *ref = sg_job_seq_at(alone, 0);
    assert_int_equal(ref->n, 10);
    assert_int_equal(ref->finish, SG_FINISH_LENGTH);

    /* Three jobs at once on a batch of 2: they queue, join as slots free up,
     * and the greedy tokens are the same as alone. */
    sg_job *jobs[3];
    for (int i = 0; i < 3; i++) {
        jobs[i] = sg_job_new(1, 0);
        assert_null(
            sg_job_set_seq(jobs[i], 0, i == 1 ? prompt_b : prompt_a, i == 1 ? 2 : 3, i == 2 ? &p4 : &p10));
        assert_int_equal(sg_sched_submit(s, jobs[i]), SG_SUBMIT_OK);
    }
    for (int i = 0; i < 3; i++) wait_done(jobs[i]);
    const sg_job_seq *a = sg_job_seq_at(jobs[0], 0), *c = sg_job_seq_at(jobs[2], 0);
    assert_int_equal(a->n, 10);
    assert_memory_equal(a->tokens, ref->tokens, 10 * sizeof(int));
    assert_int_equal(c->n, 4);
    assert_memory_equal(c->tokens, ref->tokens, 4 * sizeof(int));
    assert_int_equal(sg_job_seq_at(jobs[1], 0)->n, 10);
    for (int i = 0; i < 3; i++) sg_job_release(jobs[i]);
    sg_job_release(alone);

    /* A job with more sequences than the batch holds is refused outright. */
    sg_job *big = sg_job_new(3, 0);
    assert_int_equal(sg_sched_submit(s, big), SG_SUBMIT_TOO_LARGE);
    sg_job_release(big);
    sg_sched_free(s);
    char *t = sg_metrics_render(m);
    assert_non_null(strstr(t, "stagegate_batch_size 0\n"));
    assert_non_null(strstr(t, "stagegate_queue_depth 0\n"));
    free(t);
    sg_metrics_free(m);
}

static void scheduler_cancel_deadline_and_full_queue(void **state) {
    fixture *f = *state;
    sg_sched *s;
    assert_null(sg_sched_new(f->model, 1, NULL, &s));
    const int prompt[] = {4, 4};
    sg_generation_params lots = greedy(1000);

    /* Cancel after the first token arrives. */
    sg_job *job = sg_job_new(2, 0);
    assert_null(sg_job_set_seq(job, 0, prompt, 2, &lots));
    assert_null(sg_job_set_seq(job, 1, prompt, 2, &lots));
    assert_int_equal(sg_sched_submit(s, job), SG_SUBMIT_OK);
    sg_job_lock(job);
    while (sg_job_seq_at(job, 0)->n == 0) sg_job_wait(job, 5);
    sg_job_unlock(job);
    sg_job_cancel(job, -1);
    wait_done(job);
    assert_int_equal(sg_job_seq_at(job, 0)->finish, SG_FINISH_CANCELLED);
    assert_true(sg_job_seq_at(job, 1)->n < 1000);
    sg_job_release(job);

    /* A deadline already passed: cancelled by the scheduler, marked timed out. */
    job = sg_job_new(1, 1e-6);
    assert_null(sg_job_set_seq(job, 0, prompt, 2, &lots));
    assert_int_equal(sg_sched_submit(s, job), SG_SUBMIT_OK);
    wait_done(job);
    sg_job_lock(job);
    assert_true(sg_job_timed_out(job));
    assert_true(sg_job_seq_at(job, 0)->n < 1000);
    sg_job_unlock(job);
    sg_job_release(job);

    /* Queue of 1 behind a busy batch: the third submission is refused. */
    sg_job *js[3];
    sg_submit_result r[3];
    for (int i = 0; i < 3; i++) {
        js[i] = sg_job_new(2, 0);
        assert_null(sg_job_set_seq(js[i], 0, prompt, 2, &lots));
        assert_null(sg_job_set_seq(js[i], 1, prompt, 2, &lots));
        r[i] = sg_sched_submit(s, js[i]);
    }
    assert_int_equal(r[0], SG_SUBMIT_OK);
    assert_int_equal(r[2], SG_SUBMIT_QUEUE_FULL);
    for (int i = 0; i < 3; i++) {
        if (r[i] == SG_SUBMIT_OK) {
            sg_job_cancel(js[i], -1);
            wait_done(js[i]);
        }
        sg_job_release(js[i]);
    }
    sg_sched_free(s);
}

static void scheduler_free_cancels_running_jobs(void **state) {
    fixture *f = *state;
    sg_sched *s;
    assert_null(sg_sched_new(f->model, 4, NULL, &s));
    const int prompt[] = {9};
    sg_generation_params lots = greedy(1000);
    sg_job *job = sg_job_new(1, 0), *queued = sg_job_new(2, 0);
    assert_null(sg_job_set_seq(job, 0, prompt, 1, &lots));
    assert_null(sg_job_set_seq(queued, 0, prompt, 1, &lots));
    assert_null(sg_job_set_seq(queued, 1, prompt, 1, &lots));
    assert_int_equal(sg_sched_submit(s, job), SG_SUBMIT_OK);
    assert_int_equal(sg_sched_submit(s, queued), SG_SUBMIT_OK);
    sg_sched_free(s); /* must not hang, and must leave both jobs finished */
    assert_true(sg_job_done(job));
    assert_true(sg_job_done(queued));
    sg_job_release(job);
    sg_job_release(queued);
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_validation),
        cmocka_unit_test(request_defaults_and_shapes),
        cmocka_unit_test(request_errors_name_the_parameter),
        cmocka_unit_test(audit_decisions_keep_their_stored_names),
        cmocka_unit_test(api_error_carries_status_type_param_and_decision),
        cmocka_unit_test(openai_text_replaces_invalid_utf8),
        cmocka_unit_test(metrics_render),
        cmocka_unit_test_setup_teardown(scheduler_batches_and_matches_alone, setup_model, teardown_model),
        cmocka_unit_test_setup_teardown(scheduler_cancel_deadline_and_full_queue, setup_model,
                                        teardown_model),
        cmocka_unit_test_setup_teardown(scheduler_free_cancels_running_jobs, setup_model, teardown_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

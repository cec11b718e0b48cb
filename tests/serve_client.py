"""octet serve driven by real clients: the official `openai` package, raw HTTP for the error
paths, a client that hangs up mid-stream, and a load test. Prints PASS:/FAIL: lines for
tests/run.sh. usage: python serve_client.py BASE_URL MODEL_ID SERVER_PID [KEY_BASE_URL KEY]"""
import http.client
import json
import os
import socket
import sys
import threading
import time
import urllib.parse

import openai

BASE, MODEL, PID = sys.argv[1], sys.argv[2], int(sys.argv[3])
KEY_BASE, KEY = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else (None, None)
HOST, PORT = urllib.parse.urlparse(BASE).hostname, urllib.parse.urlparse(BASE).port
failed = 0


def test(fn):
    global failed
    t0 = time.time()
    try:
        fn()
        print("PASS: serve_%s [%.1f s]" % (fn.__name__, time.time() - t0), flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is reported, not raised
        failed += 1
        print("FAIL: serve_%s: %s: %s" % (fn.__name__, type(e).__name__, e), flush=True)
    return fn


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def raw(method, path, body=None, headers=None, port=PORT):
    c = http.client.HTTPConnection(HOST, port, timeout=120)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def read_all(s):
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            return data
        data += b


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


client = openai.OpenAI(base_url=BASE + "/v1", api_key="unused", max_retries=0, timeout=120)
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@test
def openai_chat_completion():
    r = client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=32)
    text = r.choices[0].message.content
    check("Paris" in text, "answer: %r" % text)
    check(r.choices[0].finish_reason == "stop", r.choices[0].finish_reason)
    check(r.usage.prompt_tokens > 10 and r.usage.completion_tokens > 0, r.usage)
    check(r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens, r.usage)


@test
def openai_streaming_chat_completion():
    pieces, finish, usage = [], None, None
    stream = client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=32, stream=True,
                                            stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for ch in chunk.choices:
            if ch.delta.content:
                pieces.append(ch.delta.content)
            if ch.finish_reason:
                finish = ch.finish_reason
    text = "".join(pieces)
    check(len(pieces) > 3, "streamed in %d pieces" % len(pieces))
    check("Paris" in text and finish == "stop", "%r %r" % (text, finish))
    whole = client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=32)
    check(whole.choices[0].message.content == text, "stream %r vs whole %r" % (text, whole.choices[0].message.content))
    check(usage is not None and usage.completion_tokens == whole.usage.completion_tokens, usage)


@test
def openai_completion():
    r = client.completions.create(model=MODEL, prompt="The capital of France is", max_tokens=8, temperature=0)
    check(r.choices[0].finish_reason in ("length", "stop"), r.choices[0].finish_reason)
    check("Paris" in r.choices[0].text, "text: %r" % r.choices[0].text)
    check(r.usage.completion_tokens <= 8, r.usage)
    s = client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=40, temperature=0, stop=[","])
    check("," not in s.choices[0].text and s.choices[0].finish_reason == "stop", "stop: %r" % s.choices[0].text)
    chunks = list(client.completions.create(model=MODEL, prompt="The capital of France is", max_tokens=8, temperature=0, stream=True))
    check("".join(c.choices[0].text for c in chunks if c.choices) == r.choices[0].text, "stream differs")


@test
def seeded_sampling_is_deterministic():
    args = dict(model=MODEL, messages=[{"role": "user", "content": "Tell me a story."}], temperature=1.0, max_tokens=24, seed=42)
    a = client.chat.completions.create(**args).choices[0].message.content
    b = client.chat.completions.create(**args).choices[0].message.content
    check(a == b, "%r != %r" % (a, b))


@test
def models_and_health():
    m = client.models.list()
    check([x.id for x in m.data] == [MODEL], [x.id for x in m.data])
    st, body = raw("GET", "/health")
    check(st == 200 and json.loads(body)["status"] == "ok", body)


def expect_error(status, body, code=None):
    check(body is not None, "no body")
    e = json.loads(body).get("error")
    check(e and isinstance(e.get("message"), str) and e.get("type"), "not an OpenAI error object: %r" % body)
    if code:
        check(e.get("code") == code, "code %r" % e.get("code"))


@test
def bad_requests_get_openai_errors():
    cases = [
        ("POST", "/v1/chat/completions", b'{"messages": [', 400, None),
        ("POST", "/v1/chat/completions", b'[1,2]', 400, None),
        ("POST", "/v1/chat/completions", b'{"messages": "hi"}', 400, None),
        ("POST", "/v1/chat/completions", b'{"messages": [{"role": "user"}]}', 400, None),
        ("POST", "/v1/chat/completions", b'{"messages": [{"role": "robot", "content": "x"}]}', 400, None),
        ("POST", "/v1/chat/completions", json.dumps({"messages": QUESTION, "temperature": "hot"}).encode(), 400, None),
        ("POST", "/v1/chat/completions", json.dumps({"messages": QUESTION, "max_tokens": -5}).encode(), 400, None),
        ("POST", "/v1/chat/completions", json.dumps({"messages": QUESTION, "n": 3}).encode(), 400, None),
        ("POST", "/v1/chat/completions", json.dumps({"messages": QUESTION, "stream": "yes"}).encode(), 400, None),
        ("POST", "/v1/chat/completions", json.dumps({"messages": QUESTION, "stop": [1]}).encode(), 400, None),
        ("POST", "/v1/completions", json.dumps({"prompt": {"a": 1}}).encode(), 400, None),
        ("POST", "/v1/completions", json.dumps({"prompt": "word " * 2000}).encode(), 400, "context_length_exceeded"),
        ("POST", "/v1/completions", json.dumps({"model": "gpt-4", "prompt": "x"}).encode(), 404, "model_not_found"),
        ("GET", "/v1/completions", None, 405, None),
        ("GET", "/v1/nothing", None, 404, None),
    ]
    for method, path, body, status, code in cases:
        st, data = raw(method, path, body, {"Content-Type": "application/json"})
        check(st == status, "%s %s %r: status %d, want %d" % (method, path, body[:60] if body else None, st, status))
        expect_error(st, data, code)
    try:
        client.chat.completions.create(model="no-such-model", messages=QUESTION)
        check(False, "unknown model accepted")
    except openai.NotFoundError:
        pass


@test
def size_limits():
    # The server refuses on the announced length, before reading (or the client sending) the body.
    s = socket.create_connection((HOST, PORT))
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (2 << 20))
    reply = read_all(s)
    s.close()
    check(reply.startswith(b"HTTP/1.1 413") and b'"error"' in reply, reply[:60])
    s = socket.create_connection((HOST, PORT))
    s.sendall(b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    reply = read_all(s)
    s.close()
    check(reply.startswith(b"HTTP/1.1 431"), reply[:40])
    s = socket.create_connection((HOST, PORT))
    s.sendall(b"NONSENSE\r\n\r\n")
    reply = read_all(s)
    s.close()
    check(reply.startswith(b"HTTP/1.1 400"), reply[:40])


@test
def disconnect_mid_stream_frees_the_slot():
    # --parallel 2: two streams cut off after their first tokens, then a normal request must
    # still find a free slot (it would wait forever if the slots stayed taken).
    for _ in range(2):
        s = socket.create_connection((HOST, PORT))
        body = json.dumps({"messages": [{"role": "user", "content": "Write a very long essay about the sea."}],
                           "max_tokens": 400, "temperature": 0, "stream": True}).encode()
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        got = b""
        while got.count(b"data: ") < 3:
            got += s.recv(4096)
        s.close()
    r = client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=16)
    check("Paris" in r.choices[0].message.content, r.choices[0].message.content)


# Under ASan (the f32 model at a fraction of its speed) 10 requests per client instead of 25: the
# same 8 concurrent clients on 2 slots, 80 requests; the plain suite sends all 200.
PER_CLIENT = 10 if os.environ.get("OCTET_SANITIZED") else 25


@test
def load_200_requests_from_8_clients():
    errors, done = [], [0]
    lock = threading.Lock()
    rss = {}

    def worker(k):
        c = openai.OpenAI(base_url=BASE + "/v1", api_key="unused", max_retries=0, timeout=300)
        for i in range(PER_CLIENT):
            try:
                r = c.chat.completions.create(model=MODEL, max_tokens=3, temperature=0.7, seed=k * 100 + i,
                                              messages=[{"role": "user", "content": "Say a word (%d)." % (k * 100 + i)}])
                ok = r.choices[0].finish_reason in ("stop", "length") and r.usage.completion_tokens <= 3
            except Exception as e:  # noqa: BLE001
                ok, r = False, e
            with lock:
                done[0] += 1
                if not ok:
                    errors.append(repr(r))
                if done[0] == 40:
                    rss["warm"] = rss_kb(PID)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rss["end"] = rss_kb(PID)
    print("  %d requests: %d errors; server RSS %d kB after 40, %d kB at the end" % (done[0], len(errors), rss.get("warm", -1), rss["end"]), flush=True)
    check(done[0] == 8 * PER_CLIENT and not errors, errors[:3])
    if not os.environ.get("OCTET_SANITIZED"):  # ASan's quarantine holds freed memory; LeakSanitizer checks leaks
        check(rss["end"] <= rss["warm"] + 8192, "RSS grew from %d to %d kB" % (rss["warm"], rss["end"]))


@test
def idle_connections_do_not_block_health():
    # 200 connections that never send a byte: before, they filled the 64 places and /health
    # answered 503 for 28 s. Now idle ones make room for newcomers.
    idle = [socket.create_connection((HOST, PORT)) for _ in range(200)]
    t0 = time.time()
    st, data = raw("GET", "/health")
    check(st == 200, "health: %d %r" % (st, data[:80]))
    r = client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=16)
    check("Paris" in r.choices[0].message.content, r.choices[0].message.content)
    check(time.time() - t0 < 20, "took %.1f s" % (time.time() - t0))
    # The oldest idle ones were closed by the server to make room.
    closed = 0
    for s in idle[:100]:
        s.settimeout(0.01)
        try:
            closed += s.recv(1) == b""
        except (socket.timeout, ConnectionResetError):
            pass
    for s in idle:
        s.close()
    check(closed >= 50, "only %d of the 100 oldest idle connections were closed" % closed)


@test
def control_token_text_in_a_message_is_text():
    def prompt_tokens(content):
        r = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}], temperature=0, max_tokens=1)
        return r.usage.prompt_tokens
    plain = prompt_tokens("x")
    evil = prompt_tokens("<|im_end|>")  # 1 token if it were the control token, 6 as text
    check(evil >= plain + 4, "'<|im_end|>' in a message took %d prompt tokens, 'x' took %d" % (evil, plain))


ABUSE = os.environ.get("ABUSE_URL")
if ABUSE:
    APORT = urllib.parse.urlparse(ABUSE).port

    @test
    def a_trickling_request_is_cut_off():
        # --timeout 2: the whole request must arrive within 2 s of its first byte; one byte
        # every 0.3 s kept a connection forever when each byte reset the deadline.
        s = socket.create_connection((HOST, APORT))
        s.settimeout(0.3)
        req = b"POST /v1/completions HTTP/1.1\r\nContent-Length: 1000\r\nX-Pad: " + b"a" * 200
        t0, reply = time.time(), b""
        for b in req:
            try:
                s.sendall(bytes([b]))
            except OSError:
                break
            try:
                got = s.recv(4096)
                if got:
                    reply += got
                    break
            except socket.timeout:
                pass
            except OSError:
                break
            if time.time() - t0 > 15:
                break
        s.close()
        check(time.time() - t0 < 8, "still connected after %.1f s" % (time.time() - t0))
        check(reply.startswith(b"HTTP/1.1 408"), reply[:40])

    @test
    def generation_has_a_time_limit():
        # --gen-timeout 1: max_tokens 100000 stops after about a second with finish_reason length.
        c = openai.OpenAI(base_url=ABUSE + "/v1", api_key="unused", max_retries=0, timeout=120)
        t0 = time.time()
        r = c.completions.create(model=MODEL, prompt="1, 2, 3, 4, 5, 6, 7, 8, 9, 10,", max_tokens=100000, temperature=0)
        dt = time.time() - t0
        check(r.choices[0].finish_reason == "length", r.choices[0].finish_reason)
        check(r.usage.completion_tokens < 400 and dt < 10, "%d tokens in %.1f s" % (r.usage.completion_tokens, dt))


if KEY_BASE:
    @test
    def api_key_is_required():
        kport = urllib.parse.urlparse(KEY_BASE).port
        st, data = raw("POST", "/v1/completions", b'{"prompt":"x","max_tokens":1}', port=kport)
        check(st == 401, "no key: %d" % st)
        expect_error(st, data, "invalid_api_key")
        st, _ = raw("POST", "/v1/completions", b'{"prompt":"x","max_tokens":1}', {"Authorization": "Bearer wrong"}, port=kport)
        check(st == 401, "wrong key: %d" % st)
        st, _ = raw("GET", "/health", port=kport)
        check(st == 200, "health needs no key: %d" % st)
        try:
            openai.OpenAI(base_url=KEY_BASE + "/v1", api_key="wrong", max_retries=0).models.list()
            check(False, "wrong key accepted")
        except openai.AuthenticationError:
            pass
        good = openai.OpenAI(base_url=KEY_BASE + "/v1", api_key=KEY, max_retries=0)
        r = good.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=16)
        check("Paris" in r.choices[0].message.content, r.choices[0].message.content)

sys.exit(1 if failed else 0)

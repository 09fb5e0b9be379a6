package io.sqsmega;

import static org.junit.jupiter.api.Assertions.*;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Completion stores by URL (memory, and Redis when redis-server is installed), the metrics endpoint, trace
 * context (message.trace(), currentTrace(), publishes from handlers that continue it), and the worker example
 * with a store and with a bad one.
 */
@Timeout(120)
class TraceStoreTest {
  static final String KNOWN = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  static final String KNOWN_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
  static final String KNOWN_SPAN = "00f067aa0ba902b7";
  static LocalEndpoint ep;

  @BeforeAll static void start() { ep = LocalEndpoint.start(); }
  @AfterAll static void stop() { ep.close(); }

  static String queue() { return ep.createQueue("q-" + UUID.randomUUID().toString().substring(0, 12)); }
  static SqsListener.Builder builder(String url) {
    return SqsListener.builder().queueUrl(url).aws(ep.aws()).waitTimeSeconds(1).shutdownGraceMs(5000);
  }

  @Test void storeUrlsAndMetricsAddressesAreCheckedWhereGiven() {
    String url = queue();
    for (String good : List.of("memory", "memory://?capacity=10&lease=2s", "redis://127.0.0.1:6379/0", "dynamodb://completions")) {
      builder(url).completionStore(good).build().close();
    }
    MegaException e = assertThrows(MegaException.InvalidArgumentException.class,
        () -> builder(url).completionStore("redis://user:hunter2@cache:6379/0?lease=soon").build());
    assertTrue(e.getMessage().matches("(?s).*redis://user:\\*\\*\\*@cache.*lease.*"), e.getMessage());
    assertFalse(e.getMessage().contains("hunter2"));
    assertThrows(MegaException.InvalidArgumentException.class, () -> builder(url).completionStore("mongo://x").build());
    try (SqsListener l = builder(url).metricsAddr(0).build()) { assertEquals(0, l.metricsPort()); }
    e = assertThrows(MegaException.InvalidArgumentException.class, () -> builder(url).metricsAddr("everywhere").build());
    assertTrue(e.getMessage().contains("everywhere"), e.getMessage());
    try (Publisher p = Publisher.sqs(url, ep.aws())) {
      assertThrows(MegaException.InvalidArgumentException.class, () -> p.publish(Map.of("n", 1), Publisher.options().traceparent("00-xyz-01")));
    }
    builder(url).completionStore("memory").idempotencyKey("data.order_id").build().close();
    e = assertThrows(MegaException.InvalidArgumentException.class, () -> builder(url).idempotencyKey("data..order_id").build());
    assertTrue(e.getMessage().contains("data..order_id"), e.getMessage());
  }

  @Test void aBusinessKeyRunsASubscriberOncePerOrder() throws Exception {
    String url = queue();
    try (Publisher p = Publisher.sqs(url, ep.aws())) {
      p.publish(Map.of("order_id", "A-1", "n", 1));
      p.publish(Map.of("order_id", "A-1", "n", 2));
    }
    AtomicInteger calls = new AtomicInteger();
    try (SqsListener l = builder(url).retryBaseMs(200).retryMaxMs(1000).completionStore("memory").idempotencyKey("order_id").build()) {
      l.subscribe(Subscriber.data().name("orders").handler((p, m) -> { calls.incrementAndGet(); return ProcessStatus.DONE; }));
      Map<String, Object> stats = ListenerTest.runUntil(l, () -> ListenerTest.stat(l, "deleted") >= 2);
      assertEquals(1, calls.get());
      assertEquals(1L, ((Number) stats.get("skipped_completed")).longValue());
    }
  }

  void runOnceWithStore(String store) throws Exception {
    String url = queue();
    try (Publisher p = Publisher.sqs(url, ep.aws())) { p.publish(Map.of("n", 1)); }
    AtomicInteger once = new AtomicInteger(), flaky = new AtomicInteger();
    try (SqsListener l = builder(url).retryBaseMs(200).retryMaxMs(1000).completionStore(store).build()) {
      l.subscribe(Subscriber.data().name("once").handler((p, m) -> { once.incrementAndGet(); return ProcessStatus.DONE; }));
      l.subscribe(Subscriber.data().name("flaky").handler((p, m) -> flaky.incrementAndGet() == 1 ? ProcessStatus.RETRIABLE_ERROR : ProcessStatus.DONE));
      Map<String, Object> stats = ListenerTest.runUntil(l, () -> flaky.get() >= 2 && ListenerTest.stat(l, "deleted") >= 1);
      assertEquals(1, once.get());
      assertEquals(2, flaky.get());
      assertEquals(2L, ((Number) stats.get("received")).longValue());
      assertEquals(1L, ((Number) stats.get("skipped_completed")).longValue());
      assertTrue(((Number) stats.get("store_calls")).longValue() >= 3, stats.toString());
      assertEquals(0L, ((Number) stats.get("store_errors")).longValue());
    }
  }

  @Test void memoryStoreByUrl() throws Exception { runOnceWithStore("memory"); }

  @Test void redisStore() throws Exception {
    Optional<File> server = Arrays.stream(System.getenv().getOrDefault("PATH", "").split(":"))
        .map(d -> new File(d, "redis-server")).filter(File::canExecute).findFirst();
    org.junit.jupiter.api.Assumptions.assumeTrue(server.isPresent(), "redis-server is not installed");
    int port;
    try (ServerSocket s = new ServerSocket(0)) { port = s.getLocalPort(); }
    Process redis = new ProcessBuilder(server.get().getPath(), "--port", Integer.toString(port), "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no").redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectErrorStream(true).start();
    try {
      long deadline = System.currentTimeMillis() + 10_000;
      while (true) {
        try {
          new Socket("127.0.0.1", port).close();
          break;
        } catch (java.io.IOException e) {
          if (System.currentTimeMillis() > deadline) throw e;
          Thread.sleep(50);
        }
      }
      runOnceWithStore("redis://127.0.0.1:" + port + "/0?lease=5s");
    } finally {
      redis.destroy();
      redis.waitFor(10, TimeUnit.SECONDS);
    }
  }

  static long scrape(int port, String metric) throws Exception {
    String text = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8)).body();
    for (String line : text.split("\n")) {
      if (line.startsWith(metric + "{")) return Long.parseLong(line.substring(line.lastIndexOf(' ') + 1));
    }
    throw new AssertionError(metric + " not in " + text);
  }

  @Test void metricsEndpointServesCountersThatGrow() throws Exception {
    String url = queue();
    List<Object> seen = new CopyOnWriteArrayList<>();
    try (SqsListener l = builder(url).metricsAddr("127.0.0.1:0").build(); Publisher pub = Publisher.sqs(url, ep.aws())) {
      l.subscribe(Subscriber.data().name("s").handler((p, m) -> { seen.add(p); return ProcessStatus.DONE; }));
      ExecutorService ex = Executors.newSingleThreadExecutor();
      Future<Map<String, Object>> run = ex.submit(l::listen);
      try {
        long deadline = System.currentTimeMillis() + 20_000;
        while (l.metricsPort() == 0 && System.currentTimeMillis() < deadline) Thread.sleep(10);
        int port = l.metricsPort();
        assertNotEquals(0, port);
        pub.publish(Map.of("n", 1));
        while (seen.size() < 1 && System.currentTimeMillis() < deadline) Thread.sleep(10);
        long first = scrape(port, "mega_listener_received_total");
        pub.publish(Map.of("n", 2));
        while (seen.size() < 2 && System.currentTimeMillis() < deadline) Thread.sleep(10);
        long second = scrape(port, "mega_listener_received_total");
        assertTrue(first >= 1 && second > first, first + " then " + second);
      } finally {
        l.stop();
        run.get(15, TimeUnit.SECONDS);
        ex.shutdown();
      }
      assertEquals(0, l.metricsPort());
    }
  }

  @Test void handlersSeeTheSendersTraceAndContinueIt() throws Exception {
    String url = queue(), out = queue();
    Map<String, TraceContext> seen = new ConcurrentHashMap<>();
    try (Publisher outPub = Publisher.sqs(out, ep.aws()); Publisher pub = Publisher.sqs(url, ep.aws());
         SqsListener l = builder(url).build()) {
      l.subscribe(Subscriber.data().name("s").handler((p, m) -> {
        seen.put("trace", m.trace());
        TraceContext current = SqsListener.currentTrace();
        if (current != null) seen.put("current", current);
        outPub.publish(Map.of("from", "jvm"));
        return ProcessStatus.DONE;
      }));
      pub.publish(Map.of("via", "jvm"), Publisher.options().traceparent(KNOWN));
      ListenerTest.runUntil(l, () -> seen.containsKey("trace") && ListenerTest.stat(l, "done") >= 1);
    }
    TraceContext t = seen.get("trace");
    assertEquals(KNOWN_TRACE, t.traceId());
    assertNotEquals(KNOWN_SPAN, t.spanId());
    assertEquals(KNOWN, t.parent());
    assertEquals(KNOWN_SPAN, t.parentSpanId());
    assertEquals("00-" + t.traceId() + "-" + t.spanId() + "-01", t.traceparent());
    assertEquals(t, seen.get("current"));
    assertNull(SqsListener.currentTrace());

    List<TraceContext> back = new CopyOnWriteArrayList<>();
    try (SqsListener l2 = builder(out).build()) {
      l2.subscribe(Subscriber.data().name("r").handler((p, m) -> { back.add(m.trace()); return ProcessStatus.DONE; }));
      ListenerTest.runUntil(l2, () -> back.size() >= 1);
    }
    assertEquals(KNOWN_TRACE, back.get(0).traceId());
    assertEquals(KNOWN_TRACE, back.get(0).parent().substring(3, 35));
    assertNotEquals(t.spanId(), back.get(0).parentSpanId());
  }

  static ProcessBuilder worker(String url, Map<String, String> env) {
    String root = System.getProperty("sqsmega.root");
    ProcessBuilder pb = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
        "-Dsqsmega.library=" + System.getProperty("sqsmega.library"), "-cp", System.getProperty("java.class.path"),
        new File(root, "examples/jvm/Worker.java").getPath(), url);
    pb.environment().putAll(Map.of("AWS_ENDPOINT_URL", ep.url(), "AWS_REGION", "us-east-1", "AWS_ACCESS_KEY_ID", "x", "AWS_SECRET_ACCESS_KEY", "x"));
    pb.environment().remove("MEGA_COMPLETION_STORE");
    pb.environment().remove("MEGA_METRICS_ADDR");
    pb.environment().putAll(env);
    return pb;
  }

  @Test void theWorkerExitsOneOnABadStore() throws Exception {
    Process p = worker(queue(), Map.of("MEGA_COMPLETION_STORE", "redis://user:hunter2@cache:6379/0?lease=soon")).start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    String outText = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(1, p.exitValue(), err);
    assertTrue(err.matches("(?s).*completion store redis://user:\\*\\*\\*@cache.*lease.*"), err);
    assertFalse((err + outText).contains("hunter2"));
  }

  @Test void theWorkerWithAMemoryStoreAndMetrics() throws Exception {
    String url = queue();
    Process p = worker(url, Map.of("MEGA_COMPLETION_STORE", "memory", "MEGA_METRICS_ADDR", "127.0.0.1:0")).start();
    try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
      assertTrue(out.readLine().startsWith("listening on "));
      String id;
      try (Publisher pub = Publisher.sqs(url, ep.aws())) { id = pub.publish(Map.of("a", 1)); }
      assertEquals(id + " data {\"a\":1}", out.readLine());
      assertEquals(0, new ProcessBuilder("kill", "-TERM", Long.toString(p.pid())).start().waitFor());
      assertEquals("stopped: 1 message(s) done", out.readLine());
      assertTrue(p.waitFor(30, TimeUnit.SECONDS));
      assertEquals(0, p.exitValue());
    } finally {
      p.destroyForcibly();
    }
  }
}

package io.sqsmega;

import static io.sqsmega.Patterns.*;
import static org.junit.jupiter.api.Assertions.*;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.*;
import java.util.concurrent.*;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ListenerTest {
  static LocalEndpoint ep;

  @BeforeAll static void start() { ep = LocalEndpoint.start(); }
  @AfterAll static void stop() { ep.close(); }

  static String queue() { return ep.createQueue("q-" + UUID.randomUUID().toString().substring(0, 12)); }
  static SqsListener listener(String url) {
    return SqsListener.builder().queueUrl(url).aws(ep.aws()).waitTimeSeconds(1).shutdownGraceMs(5000).retryBaseMs(60_000).build();
  }

  /** Runs listen() on a thread until the condition holds, then closes: the stats. */
  static Map<String, Object> runUntil(SqsListener l, BooleanSupplier cond) throws Exception {
    ExecutorService ex = Executors.newSingleThreadExecutor();
    Future<Map<String, Object>> run = ex.submit(l::listen);
    long deadline = System.currentTimeMillis() + 20_000;
    while (!cond.getAsBoolean() && System.currentTimeMillis() < deadline) Thread.sleep(20);
    l.stop();
    Map<String, Object> stats = run.get(15, TimeUnit.SECONDS);
    ex.shutdown();
    assertTrue(cond.getAsBoolean(), "the condition never held");
    return stats;
  }

  static long stat(SqsListener l, String k) { return ((Number) l.stats().get(k)).longValue(); }

  void outcome(Subscriber.Handler<Object> handler, String stat, boolean deleted) throws Exception {
    String url = queue();
    try (Publisher p = Publisher.sqs(url, ep.aws())) { p.publish(Map.of("n", 1)); }
    List<Object> seen = new CopyOnWriteArrayList<>();
    try (SqsListener l = listener(url)) {
      l.subscribe(Subscriber.data().name("s").retryOn(TimeoutException.class).handler((payload, m) -> { seen.add(payload); return handler.handle(payload, m); }));
      Map<String, Object> stats = runUntil(l, () -> stat(l, stat) >= 1);
      assertEquals(1L, ((Number) stats.get(stat)).longValue());
      if (!stat.equals("done")) assertEquals(0L, ((Number) stats.get("done")).longValue(), "never counted as done");
    }
    assertEquals(List.of(Map.of("n", 1L)), seen);
    assertArrayEquals(deleted ? new long[] {0, 0} : new long[] {0, 1}, ep.queueCounts(url));
  }

  @Test void nullIsDone() throws Exception { outcome((p, m) -> null, "done", true); }
  @Test void done() throws Exception { outcome((p, m) -> ProcessStatus.DONE, "done", true); }
  @Test void fatal() throws Exception { outcome((p, m) -> ProcessStatus.FATAL_ERROR, "fatal_error", true); }
  @Test void retryLater() throws Exception { outcome((p, m) -> ProcessStatus.RETRY_LATER, "retry_later", false); }
  @Test void retriable() throws Exception { outcome((p, m) -> ProcessStatus.RETRIABLE_ERROR, "retriable_error", false); }
  @Test void anExceptionIsFatal() throws Exception { outcome((p, m) -> { throw new IllegalStateException("boom"); }, "fatal_error", true); }
  @Test void retriableException() throws Exception { outcome((p, m) -> { throw new RetriableException("later"); }, "retriable_error", false); }
  @Test void declaredRetryOn() throws Exception { outcome((p, m) -> { throw new TimeoutException("declared"); }, "retriable_error", false); }
  @Test void anErrorIsNoVerdict() throws Exception { outcome((p, m) -> { throw new OutOfMemoryError("simulated"); }, "retriable_error", false); }

  @Test void snsEnvelopedBsonEventWithRulesAndPredicate() throws Exception {
    String url = queue();
    String topic = ep.createTopic("t-" + UUID.randomUUID().toString().substring(0, 8));
    ep.subscribe(topic, url, false);
    Payload event = Payload.builder().domain("shopping_cart").name("item.added").version(1).subject("987650")
        .attribute("item_id", "61fcc874").attribute("quantity", 5).attribute("price", new BigDecimal("19.99"))
        .object("shopping_cart", "18a3f92e", 2L, Map.of("value", "377.37"), null).build();
    try (Publisher sns = Publisher.sns(topic, ep.aws())) {
      sns.publish(event, Publisher.options().binaryEncoding(true).subject("cart"));
    }
    List<Object[]> got = new CopyOnWriteArrayList<>();
    try (SqsListener l = listener(url)) {
      l.subscribe(Subscriber.event().name("added").domain("shopping_cart").eventName("item.added").version(oneOf(1, 2))
          .attributes(fields("item_id", not(empty()), "quantity", where(v -> ((Number) v).longValue() > 0)))
          .handler((payload, message) -> { got.add(new Object[] {payload, message}); return ProcessStatus.DONE; }));
      runUntil(l, () -> got.size() >= 1);
    }
    Payload p = (Payload) got.get(0)[0];
    Message m = (Message) got.get(0)[1];
    assertEquals("61fcc874", p.event().attribute("item_id"));
    assertEquals(new BigDecimal("19.99"), p.event().attribute("price"));
    assertInstanceOf(Instant.class, p.event().timestamp());
    assertEquals("bson", m.encoding());
    assertNotNull(m.sns());
    assertEquals(1, m.receiveCount());
  }

  @Test void poisonGoesToTheDeadLetterQueue() throws Exception {
    String dlq = queue();
    String dlqName = dlq.substring(dlq.lastIndexOf('/') + 1);
    String url = ep.createQueue("poison-" + UUID.randomUUID().toString().substring(0, 8), Map.of("VisibilityTimeout", "1",
        "RedrivePolicy", "{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:000000000000:" + dlqName + "\",\"maxReceiveCount\":\"2\"}"));
    try (Publisher p = Publisher.sqs(url, ep.aws())) { p.publishRaw("{\"protocol\": \"mega\", \"version\": 1, \"event\": {}}"); }
    int[] handled = {0};
    try (SqsListener l = SqsListener.builder().queueUrl(url).aws(ep.aws()).waitTimeSeconds(1).build()) {
      l.subscribe(Subscriber.data().name("any").handler((payload, m) -> { handled[0]++; return null; }));
      Map<String, Object> stats = runUntil(l, () -> ep.queueCounts(dlq)[0] == 1);
      assertTrue(((Number) stats.get("invalid")).longValue() >= 2);
    }
    assertEquals(0, handled[0]);
  }

  @Test void registrationAndSettingsErrors() {
    String url = queue();
    try (SqsListener l = listener(url)) {
      l.subscribe(Subscriber.data().name("a").handler((p, m) -> null));
      MegaException e = assertThrows(MegaException.ListenerException.class, () -> l.subscribe(Subscriber.data().name("a").handler((p, m) -> null)));
      assertEquals("listener.duplicate_subscriber", e.code());
    }
    MegaException e = assertThrows(MegaException.InvalidArgumentException.class,
        () -> SqsListener.builder().queueUrl(url).aws(ep.aws()).maxNumberOfMessages(11).build());
    assertTrue(e.getMessage().contains("11"), e.getMessage());
    assertThrows(MegaException.DecodeException.class, () -> Mega.decode("x!", "bson"));
  }

  @Test void sigtermToTheWorkerExampleDrainsAndExitsZero() throws Exception {
    String url = queue();
    String root = System.getProperty("sqsmega.root");
    ProcessBuilder pb = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
        "-Dsqsmega.library=" + System.getProperty("sqsmega.library"), "-cp", System.getProperty("java.class.path"),
        new File(root, "examples/jvm/Worker.java").getPath(), url);
    pb.environment().putAll(Map.of("AWS_ENDPOINT_URL", ep.url(), "AWS_REGION", "us-east-1", "AWS_ACCESS_KEY_ID", "x", "AWS_SECRET_ACCESS_KEY", "x"));
    pb.redirectErrorStream(false);
    Process p = pb.start();
    try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
      assertTrue(out.readLine().startsWith("listening on "));
      String eventId, dataId;
      try (Publisher pub = Publisher.sqs(url, ep.aws())) {
        eventId = pub.publish(Payload.builder().name("user.created").subject("1").build());
        dataId = pub.publish(new TreeMap<>(Map.of("b", 2, "a", 1)), Publisher.options().binaryEncoding(true));
      }
      Set<String> lines = new HashSet<>(List.of(out.readLine(), out.readLine()));
      assertEquals(Set.of(eventId + " event user.created attempt 1", dataId + " data {\"a\":1,\"b\":2}"), lines);
      // SIGTERM (Process.destroy would also close our end of its output): the shutdown hook stops and drains.
      assertEquals(0, new ProcessBuilder("kill", "-TERM", Long.toString(p.pid())).start().waitFor());
      assertEquals("stopped: 2 message(s) done", out.readLine());
      assertTrue(p.waitFor(30, TimeUnit.SECONDS));
      assertEquals(0, p.exitValue());
    } finally {
      p.destroyForcibly();
    }
  }
}

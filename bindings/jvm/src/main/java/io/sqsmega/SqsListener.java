package io.sqsmega;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import com.sun.jna.ptr.ShortByReference;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Listens to one queue: the core polls, decodes, matches, retries and deletes; Java platform threads
 * ({@code workers}) pull the matched messages through the C ABI's pull API and run the handlers.
 *
 * <pre>{@code
 * try (SqsListener listener = SqsListener.builder().queueUrl(url).build()) {
 *   listener.subscribe(Subscriber.event().domain("shopping_cart").eventName("item.added")
 *       .handler((payload, message) -> ProcessStatus.DONE));
 *   listener.listen();                 // until close(), or the shutdown hook on SIGTERM
 * }
 * }</pre>
 */
public final class SqsListener implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger("io.sqsmega");

  private final Pointer listener;
  private final Cleaner.Cleanable cleanable;
  private final int workers;
  private final long graceMs;
  private final Map<String, Subscriber> subscribers = new HashMap<>();
  private final List<CompiledPattern> patterns = new ArrayList<>(); // their predicates stay reachable
  private final AtomicBoolean running = new AtomicBoolean();
  private final Object runLock = new Object(); // one run at a time
  private volatile boolean done = true;
  private volatile Thread listenThread;

  /** Settings: seed names, camel case. Unset ones keep the core's defaults (maxInFlight here: 100). */
  public static final class Builder {
    private String queueUrl;
    private Aws aws = Aws.fromChain();
    private int workers = 10;
    private final Map<Integer, Long> options = new LinkedHashMap<>(Map.of(4, 100L));
    private final Map<Integer, String> texts = new LinkedHashMap<>();

    public Builder queueUrl(String v) { queueUrl = v; return this; }
    public Builder aws(Aws v) { aws = v; return this; }
    public Builder endpoint(String v) { aws = aws.withEndpoint(v); return this; }
    public Builder region(String v) { aws = aws.withRegion(v); return this; }
    public Builder credentials(String id, String secret) { aws = aws.withCredentials(id, secret); return this; }
    public Builder workers(int v) { workers = v; return this; }
    public Builder maxNumberOfMessages(int v) { options.put(0, (long) v); return this; }
    public Builder waitTimeSeconds(int v) { options.put(1, (long) v); return this; }
    public Builder visibilityTimeout(int v) { options.put(2, (long) v); return this; }
    public Builder pollers(int v) { options.put(3, (long) v); return this; }
    public Builder maxInFlight(int v) { options.put(4, (long) v); return this; }
    public Builder heartbeat(boolean v) { options.put(5, v ? 1L : 0L); return this; }
    public Builder shutdownGraceMs(long v) { options.put(6, v); return this; }
    public Builder retryBaseMs(long v) { options.put(8, v); return this; }
    public Builder retryMaxMs(long v) { options.put(9, v); return this; }
    public Builder keepUnmatched(boolean v) { options.put(11, v ? 1L : 0L); return this; }
    /**
     * The completion store, as a URL: {@code memory}, {@code redis://HOST:6379/0}, {@code dynamodb://TABLE}
     * (each with {@code ?lease=30s&ttl=24h}); a message delivered twice then runs each subscriber once. Checked
     * by {@link #build()} (an {@link MegaException.InvalidArgumentException} naming the URL, its password hidden).
     */
    public Builder completionStore(String url) { texts.put(12, url); return this; }
    /** Serve Prometheus metrics ({@code GET /metrics}) while listening: {@code 9464}, {@code 0.0.0.0:9464}, 0 for a free port. */
    public Builder metricsAddr(String addr) { texts.put(13, addr); return this; }
    public Builder metricsAddr(int port) { return metricsAddr(Integer.toString(port)); }
    /** The completion store's key of a message: a dotted path into its payload ({@code order_id}, {@code data.order_id} of an event); default the message id. */
    public Builder idempotencyKey(String path) { texts.put(14, path); return this; }

    public SqsListener build() {
      if (queueUrl == null) throw MegaException.invalid("queueUrl is required");
      if (workers < 1) throw MegaException.invalid("workers must be at least 1, not " + workers);
      return new SqsListener(this);
    }
  }

  public static Builder builder() { return new Builder(); }

  private SqsListener(Builder b) {
    Pointer settings = b.aws.toNative();
    PointerByReference out = new PointerByReference();
    try {
      NativeLib.check(NativeLib.mega_listener_new(settings, b.queueUrl, out));
    } finally {
      NativeLib.mega_settings_free(settings);
    }
    listener = out.getValue();
    Pointer l = listener;
    cleanable = CompiledPattern.CLEANER.register(this, () -> NativeLib.mega_listener_free(l));
    try {
      // The JVM owns SIGTERM/SIGINT (shutdown hooks): the core never installs signal handlers here.
      NativeLib.check(NativeLib.mega_listener_set(listener, 10, 0));
      for (Map.Entry<Integer, Long> e : b.options.entrySet()) NativeLib.check(NativeLib.mega_listener_set(listener, e.getKey(), e.getValue()));
      for (Map.Entry<Integer, String> e : b.texts.entrySet()) NativeLib.check(NativeLib.mega_listener_set_text(listener, e.getKey(), e.getValue()));
    } catch (RuntimeException e) {
      cleanable.clean();
      throw e;
    }
    workers = b.workers;
    graceMs = b.options.getOrDefault(6, 30_000L);
  }

  /** Registers a subscriber (its name must be unique in this listener). */
  public SqsListener subscribe(Subscriber s) {
    CompiledPattern pattern = null;
    if (s.pattern != null) {
      if (s.kind == 0) {
        List<Predicate<Object>> predicates = new ArrayList<>();
        Map<String, Object> rules = new LinkedHashMap<>();
        @SuppressWarnings("unchecked") Map<String, Object> given = (Map<String, Object>) s.pattern;
        for (Map.Entry<String, Object> e : given.entrySet()) rules.put(e.getKey(), Patterns.toJson(e.getValue(), predicates));
        Map<String, Predicate<Object>> named = new LinkedHashMap<>();
        for (int i = 0; i < predicates.size(); i++) named.put("jvm" + i, predicates.get(i));
        pattern = new CompiledPattern(Json.dump(Map.of("$event", rules)), 0, named);
      } else {
        pattern = CompiledPattern.of(s.pattern);
      }
    }
    NativeLib.check(NativeLib.mega_listener_subscribe_queued_pattern(listener, s.name, s.kind, pattern == null ? null : pattern.pointer()));
    if (pattern != null) patterns.add(pattern);
    subscribers.put(s.name, s);
    return this;
  }

  /** Listens until {@link #close()} or {@link #stop()}, blocking this thread: the run's counters. */
  public Map<String, Object> listen() {
    if (subscribers.isEmpty()) throw MegaException.invalid("no subscriber is registered");
    synchronized (runLock) {
      listenThread = Thread.currentThread();
      done = false;
      running.set(true);
      ExecutorService pool = Executors.newFixedThreadPool(workers, r -> {
        Thread t = new Thread(r, "sqs-mega-worker");
        t.setDaemon(true);
        return t;
      });
      for (int i = 0; i < workers; i++) pool.submit(this::work);
      try {
        NativeLib.check(NativeLib.mega_listener_run(listener));
      } finally {
        done = true;
        pool.shutdown();
        try {
          pool.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        running.set(false);
      }
      return stats();
    }
  }

  /** Asks the run to stop (receiving stops; work in flight finishes up to the grace); returns at once. */
  public void stop() { NativeLib.mega_listener_stop(listener); }

  public boolean isRunning() { return running.get(); }

  /** Stops and waits (up to the grace and a little more) for {@link #listen()} to return, then frees. */
  @Override
  public void close() {
    stop();
    long deadline = System.currentTimeMillis() + graceMs + 5_000;
    while (running.get() && System.currentTimeMillis() < deadline) {
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    if (!running.get()) cleanable.clean();
  }

  /**
   * Stops and drains when the JVM shuts down (SIGTERM, SIGINT, System.exit): the hook stops the listener, waits
   * for {@link #listen()} to return, then for the thread that called it to finish (up to five seconds), so that
   * what the program does after {@code listen()} still runs.
   */
  public SqsListener installShutdownHook() {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      Thread caller = listenThread;
      close();
      if (caller != null && caller != Thread.currentThread()) {
        try {
          caller.join(5_000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }, "sqs-mega-shutdown"));
    return this;
  }

  /** The port the metrics endpoint listens on while running with {@code metricsAddr} (the one picked for 0), else 0. */
  public int metricsPort() {
    ShortByReference out = new ShortByReference();
    NativeLib.check(NativeLib.mega_listener_metrics_port(listener, out));
    return Short.toUnsignedInt(out.getValue());
  }

  private static final ThreadLocal<TraceContext> CURRENT = new ThreadLocal<>();

  /** The trace context of the handler running on this thread, or null outside handlers. */
  public static TraceContext currentTrace() { return CURRENT.get(); }

  /** The counters of the current or last run. */
  @SuppressWarnings("unchecked")
  public Map<String, Object> stats() {
    PointerByReference out = new PointerByReference();
    NativeLib.check(NativeLib.mega_listener_stats_json(listener, out));
    return (Map<String, Object>) Json.load(NativeLib.owned(out.getValue()));
  }

  private void work() {
    PointerByReference out = new PointerByReference();
    IntByReference accepted = new IntByReference();
    while (true) {
      NativeLib.check(NativeLib.mega_listener_next_delivery(listener, 250, out));
      Pointer delivery = out.getValue();
      if (delivery == null) {
        if (done) return;
        continue;
      }
      int status = ProcessStatus.RETRIABLE_ERROR.code;
      try {
        status = handle(delivery);
      } catch (Throwable t) {
        LOG.log(Level.SEVERE, "sqs-mega: a delivery could not be handled (retriable_error)", t);
      } finally {
        NativeLib.mega_delivery_complete(delivery, status, accepted);
        NativeLib.mega_delivery_free(delivery);
      }
    }
  }

  @SuppressWarnings("unchecked")
  private int handle(Pointer delivery) {
    NativeLib.Str s = new NativeLib.Str();
    NativeLib.check(NativeLib.mega_delivery_subscriber(delivery, s));
    String name = s.text();
    Subscriber sub = subscribers.get(name);
    PointerByReference m = new PointerByReference();
    NativeLib.check(NativeLib.mega_delivery_message(delivery, m));
    Pointer msg = m.getValue();
    NativeLib.check(NativeLib.mega_message_json(msg, s));
    Map<String, Object> report = (Map<String, Object>) Json.load(s.text());
    NativeLib.check(NativeLib.mega_message_id(msg, s));
    String id = s.text();
    IntByReference count = new IntByReference();
    NativeLib.check(NativeLib.mega_message_receive_count(msg, count));
    NativeLib.check(NativeLib.mega_message_attributes_json(msg, s));
    Map<String, Object> attributes = (Map<String, Object>) Json.load(s.text());
    Object payload = "mega".equals(report.get("kind")) ? Payload.wrap(report.get("payload")) : report.get("payload");
    NativeLib.check(NativeLib.mega_message_traceparent(msg, s));
    String traceparent = s.text();
    String parent = NativeLib.mega_message_parent_traceparent(msg, s) == 0 ? s.text() : null;
    TraceContext trace = new TraceContext(traceparent, parent);
    Message message = new Message(id, count.getValue(), (String) report.get("encoding"), (Map<String, Object>) report.get("sns"), attributes, trace);
    CURRENT.set(trace);
    try {
      ProcessStatus status = sub.handler.handle(payload, message);
      return status == null ? ProcessStatus.DONE.code : status.code;
    } catch (RetriableException e) {
      LOG.log(Level.WARNING, "subscriber " + name + ": " + e + " (retriable_error)");
      return ProcessStatus.RETRIABLE_ERROR.code;
    } catch (Throwable t) {
      for (Class<? extends Throwable> c : sub.retryOn) {
        if (c.isInstance(t)) {
          LOG.log(Level.WARNING, "subscriber " + name + ": " + t + " (retriable_error)");
          return ProcessStatus.RETRIABLE_ERROR.code;
        }
      }
      if (t instanceof Error && !(t instanceof AssertionError)) {
        LOG.log(Level.SEVERE, "subscriber " + name + ": " + t + " (retriable_error: not a verdict on the message)", t);
        return ProcessStatus.RETRIABLE_ERROR.code;
      }
      LOG.log(Level.SEVERE, "subscriber " + name + " failed (fatal_error)", t);
      return ProcessStatus.FATAL_ERROR.code;
    } finally {
      CURRENT.remove();
    }
  }
}

package io.sqsmega;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.util.Map;

/** The embedded SQS + SNS endpoint, in this process, on loopback: for tests and demos (no AWS account). */
public final class LocalEndpoint implements AutoCloseable {
  private Pointer local;
  private final String url;
  private final Aws aws;

  public static LocalEndpoint start() { return new LocalEndpoint(0); }

  private LocalEndpoint(int port) {
    PointerByReference out = new PointerByReference();
    NativeLib.check(NativeLib.mega_local_start("127.0.0.1", (short) port, out));
    local = out.getValue();
    url = NativeLib.mega_local_url(local);
    aws = new Aws("us-east-1", url, "local", "local", null, null);
  }

  public String url() { return url; }

  /** What connects publishers and listeners to this endpoint. */
  public Aws aws() { return aws; }

  public String createQueue(String name) { return createQueue(name, Map.of()); }

  public String createQueue(String name, Map<String, String> attributes) {
    return withSettings(s -> {
      PointerByReference out = new PointerByReference();
      NativeLib.check(NativeLib.mega_queue_create(s, name, attributes.isEmpty() ? null : Json.dump(attributes), out));
      return NativeLib.owned(out.getValue());
    });
  }

  public String createTopic(String name) {
    return withSettings(s -> {
      PointerByReference out = new PointerByReference();
      NativeLib.check(NativeLib.mega_topic_create(s, name, out));
      return NativeLib.owned(out.getValue());
    });
  }

  public void subscribe(String topicArn, String queueUrl, boolean raw) {
    withSettings(s -> {
      NativeLib.check(NativeLib.mega_topic_subscribe_queue(s, topicArn, queueUrl, raw));
      return null;
    });
  }

  /** {visible, inFlight} */
  @SuppressWarnings("unchecked")
  public long[] queueCounts(String queueUrl) {
    Map<String, Object> a = withSettings(s -> {
      PointerByReference out = new PointerByReference();
      NativeLib.check(NativeLib.mega_queue_attributes(s, queueUrl, out));
      return (Map<String, Object>) Json.load(NativeLib.owned(out.getValue()));
    });
    return new long[] {Long.parseLong(String.valueOf(a.get("ApproximateNumberOfMessages"))),
        Long.parseLong(String.valueOf(a.get("ApproximateNumberOfMessagesNotVisible")))};
  }

  private <T> T withSettings(java.util.function.Function<Pointer, T> f) {
    Pointer s = aws.toNative();
    try {
      return f.apply(s);
    } finally {
      NativeLib.mega_settings_free(s);
    }
  }

  @Override
  public synchronized void close() {
    if (local != null) {
      NativeLib.mega_local_free(local);
      local = null;
    }
  }
}

package io.sqsmega;

import com.sun.jna.Callback;
import com.sun.jna.CallbackThreadInitializer;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import com.sun.jna.ptr.ShortByReference;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The C library (libsqs_mega), bound with JNA direct mapping. Found, in order: the system property
 * {@code sqsmega.library}, the environment variable {@code SQS_MEGA_LIB}, the jar's own copy
 * ({@code /native/libsqs_mega.so}), then the library path; an error lists every place tried.
 */
final class NativeLib {
  private NativeLib() {}

  static final String LOADED_FROM = load();

  private static String load() {
    List<String> tried = new ArrayList<>();
    List<String> candidates = new ArrayList<>();
    String prop = System.getProperty("sqsmega.library");
    if (prop != null && !prop.isEmpty()) candidates.add(prop);
    String env = System.getenv("SQS_MEGA_LIB");
    if (env != null && !env.isEmpty()) candidates.add(env);
    String bundled = extractBundled(tried);
    if (bundled != null) candidates.add(bundled);
    for (String path : candidates) {
      if (!new File(path).isFile()) {
        tried.add(path + " (not there)");
        continue;
      }
      try {
        Native.register(NativeLib.class, NativeLibrary.getInstance(path));
        return path;
      } catch (UnsatisfiedLinkError e) {
        tried.add(path + " (" + e.getMessage() + ")");
      }
    }
    try {
      Native.register(NativeLib.class, "sqs_mega");
      return "sqs_mega (library path)";
    } catch (UnsatisfiedLinkError e) {
      tried.add("sqs_mega on the library path (" + e.getMessage() + ")");
    }
    throw new UnsatisfiedLinkError(
        "sqs-mega: cannot load libsqs_mega. Tried:\n  " + String.join("\n  ", tried)
            + "\nBuild it (cargo build -p sqs-mega-ffi) and set -Dsqsmega.library=PATH or SQS_MEGA_LIB.");
  }

  private static String extractBundled(List<String> tried) {
    try (InputStream in = NativeLib.class.getResourceAsStream("/native/libsqs_mega.so")) {
      if (in == null) {
        tried.add("jar resource /native/libsqs_mega.so (not bundled)");
        return null;
      }
      Path tmp = Files.createTempFile("libsqs_mega", ".so");
      tmp.toFile().deleteOnExit();
      Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
      return tmp.toString();
    } catch (IOException e) {
      tried.add("jar resource /native/libsqs_mega.so (" + e.getMessage() + ")");
      return null;
    }
  }

  /** A borrowed string: {@code len} bytes of UTF-8 at {@code data}. */
  @Structure.FieldOrder({"data", "len"})
  public static class Str extends Structure {
    public Pointer data;
    public long len;

    String text() {
      return len == 0 ? "" : new String(data.getByteArray(0, (int) len), StandardCharsets.UTF_8);
    }
  }

  /** A user predicate of a pattern: called on the library's threads. */
  public interface Predicate extends Callback {
    boolean invoke(Pointer userdata, Pointer value);
  }

  /** Predicates stay attached to the JVM (no attach/detach per call) as daemon threads. */
  static void initialize(Predicate p) {
    Native.setCallbackThreadInitializer(p, new CallbackThreadInitializer(true, false, "sqs-mega-predicate"));
  }

  static native String mega_version();
  static native void mega_string_free(Pointer s);
  static native String mega_last_error_message();
  static native String mega_last_error_code_name();
  static native String mega_last_error_detail();
  static native String mega_last_error_class(PointerByReference category);
  static native int mega_settings_new(PointerByReference out);
  static native void mega_settings_free(Pointer settings);
  static native int mega_settings_set_region(Pointer settings, String region);
  static native int mega_settings_set_endpoint_url(Pointer settings, String url);
  static native int mega_settings_set_profile(Pointer settings, String profile);
  static native int mega_settings_set_credentials(Pointer settings, String id, String secret, String token);
  static native int mega_queue_create(Pointer settings, String name, String attributesJson, PointerByReference url);
  static native int mega_queue_attributes(Pointer settings, String queueUrl, PointerByReference out);
  static native int mega_topic_create(Pointer settings, String name, PointerByReference arn);
  static native int mega_topic_subscribe_queue(Pointer settings, String topicArn, String queueUrl, boolean raw);
  static native int mega_decode(String body, String encoding, PointerByReference out);
  static native void mega_decoded_free(Pointer decoded);
  static native int mega_decoded_json(Pointer decoded, Str out);
  static native int mega_value_parse_json(String text, boolean tagged, PointerByReference out);
  static native void mega_value_free(Pointer value);
  static native int mega_value_to_json(Pointer value, boolean tagged, PointerByReference out);
  static native int mega_event_validate(String taggedJson, PointerByReference out);
  static native int mega_callbacks_new(PointerByReference out);
  static native int mega_callbacks_add(Pointer callbacks, String id, Predicate predicate, Pointer userdata);
  static native void mega_callbacks_free(Pointer callbacks);
  static native int mega_pattern_compile(String text, int syntax, Pointer callbacks, PointerByReference out);
  static native void mega_pattern_free(Pointer pattern);
  static native int mega_pattern_matches(Pointer pattern, Pointer value, IntByReference out);
  static native int mega_publish_options_new(PointerByReference out);
  static native void mega_publish_options_free(Pointer options);
  static native int mega_publish_options_set_binary_encoding(Pointer options, boolean binary);
  static native int mega_publish_options_set_group_id(Pointer options, String groupId);
  static native int mega_publish_options_set_deduplication_id(Pointer options, String id);
  static native int mega_publish_options_set_subject(Pointer options, String subject);
  static native int mega_publish_options_set_traceparent(Pointer options, String traceparent);
  static native int mega_publish_options_set_no_trace(Pointer options, boolean noTrace);
  static native int mega_publish_options_set_delay_seconds(Pointer options, int seconds);
  static native int mega_publish_options_add_attribute(Pointer options, String name, String type, String value);
  static native int mega_sqs_publisher_new(Pointer settings, String queueUrl, PointerByReference out);
  static native int mega_sns_publisher_new(Pointer settings, String topicArn, PointerByReference out);
  static native void mega_publisher_free(Pointer publisher);
  static native int mega_publisher_publish_json(Pointer publisher, String json, Pointer options, PointerByReference id);
  static native int mega_publisher_publish_plaintext(Pointer publisher, String text, Pointer options, PointerByReference id);
  static native int mega_publisher_publish_binary(Pointer publisher, byte[] data, long len, Pointer options, PointerByReference id);
  static native int mega_publisher_publish_raw(Pointer publisher, String body, Pointer options, PointerByReference id);
  static native int mega_batch_new(PointerByReference out);
  static native void mega_batch_free(Pointer batch);
  static native int mega_batch_add_json(Pointer batch, String json, Pointer options);
  static native int mega_publisher_publish_batch(Pointer publisher, Pointer batch, PointerByReference out);
  static native int mega_batch_result_len(Pointer result, LongByReference out);
  static native int mega_batch_result_entry(Pointer result, long index, Str id);
  static native void mega_batch_result_free(Pointer result);
  static native int mega_listener_new(Pointer settings, String queueUrl, PointerByReference out);
  static native void mega_listener_free(Pointer listener);
  static native int mega_listener_set(Pointer listener, int option, long value);
  static native int mega_listener_set_text(Pointer listener, int option, String value);
  static native int mega_listener_metrics_port(Pointer listener, ShortByReference out);
  static native int mega_listener_subscribe_queued_pattern(Pointer listener, String name, int kind, Pointer pattern);
  static native int mega_listener_run(Pointer listener);
  static native void mega_listener_stop(Pointer listener);
  static native int mega_listener_stats_json(Pointer listener, PointerByReference out);
  static native int mega_listener_next_delivery(Pointer listener, long timeoutMs, PointerByReference out);
  static native int mega_delivery_message(Pointer delivery, PointerByReference out);
  static native int mega_delivery_subscriber(Pointer delivery, Str out);
  static native int mega_delivery_complete(Pointer delivery, int status, IntByReference accepted);
  static native void mega_delivery_free(Pointer delivery);
  static native int mega_message_json(Pointer message, Str out);
  static native int mega_message_id(Pointer message, Str out);
  static native int mega_message_receive_count(Pointer message, IntByReference out);
  static native int mega_message_attributes_json(Pointer message, Str out);
  static native int mega_message_traceparent(Pointer message, Str out);
  static native int mega_message_parent_traceparent(Pointer message, Str out);
  static native int mega_local_start(String host, short port, PointerByReference out);
  static native String mega_local_url(Pointer local);
  static native void mega_local_free(Pointer local);

  /** Throws the thread's last error, as the exception of its family, when {@code rc} is not OK. */
  static void check(int rc) {
    if (rc == 0) return;
    PointerByReference category = new PointerByReference();
    String cls = mega_last_error_class(category);
    String cat = category.getValue() == null ? "internal" : category.getValue().getString(0, "UTF-8");
    throw MegaException.of(cls, mega_last_error_code_name(), mega_last_error_message(), mega_last_error_detail(), cat);
  }

  /** A string the library allocated, copied and freed. */
  static String owned(Pointer p) {
    if (p == null) return null;
    try {
      return p.getString(0, "UTF-8");
    } finally {
      mega_string_free(p);
    }
  }
}

package io.sqsmega;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.util.Map;

/** The codec on its own: decode any SQS body. */
public final class Mega {
  private Mega() {}

  /** A decoded body: kind (mega, data, plaintext, binary, none), the payload, its encoding, SNS metadata. */
  public record Decoded(String kind, Object payload, String encoding, Map<String, Object> sns) {}

  @SuppressWarnings("unchecked")
  public static Decoded decode(String body, String encoding) {
    PointerByReference out = new PointerByReference();
    NativeLib.check(NativeLib.mega_decode(body, encoding, out));
    Pointer d = out.getValue();
    try {
      NativeLib.Str s = new NativeLib.Str();
      NativeLib.check(NativeLib.mega_decoded_json(d, s));
      Map<String, Object> r = (Map<String, Object>) Json.load(s.text());
      String kind = (String) r.get("kind");
      Object payload = "mega".equals(kind) ? Payload.wrap(r.get("payload")) : r.get("payload");
      return new Decoded(kind, payload, (String) r.get("encoding"), (Map<String, Object>) r.get("sns"));
    } finally {
      NativeLib.mega_decoded_free(d);
    }
  }

  public static String version() { return NativeLib.mega_version(); }
}

package io.sqsmega;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;

/** Where and as whom to connect; whatever is left null comes from the standard AWS chain (AWS_ENDPOINT_URL included). */
public record Aws(String region, String endpoint, String accessKeyId, String secretAccessKey, String sessionToken, String profile) {
  public static Aws fromChain() { return new Aws(null, null, null, null, null, null); }

  public Aws withEndpoint(String e) { return new Aws(region, e, accessKeyId, secretAccessKey, sessionToken, profile); }
  public Aws withRegion(String r) { return new Aws(r, endpoint, accessKeyId, secretAccessKey, sessionToken, profile); }
  public Aws withCredentials(String id, String secret) { return new Aws(region, endpoint, id, secret, null, profile); }

  @Override
  public String toString() { return "Aws[region=" + region + ", endpoint=" + endpoint + ", credentials=" + (accessKeyId == null ? "chain" : "explicit") + "]"; }

  /** Native settings; the caller frees them with mega_settings_free. */
  Pointer toNative() {
    PointerByReference out = new PointerByReference();
    NativeLib.check(NativeLib.mega_settings_new(out));
    Pointer s = out.getValue();
    try {
      if (region != null) NativeLib.check(NativeLib.mega_settings_set_region(s, region));
      if (endpoint != null) NativeLib.check(NativeLib.mega_settings_set_endpoint_url(s, endpoint));
      if (profile != null) NativeLib.check(NativeLib.mega_settings_set_profile(s, profile));
      if (accessKeyId != null || secretAccessKey != null) {
        if (accessKeyId == null || secretAccessKey == null) throw MegaException.invalid("accessKeyId and secretAccessKey go together");
        NativeLib.check(NativeLib.mega_settings_set_credentials(s, accessKeyId, secretAccessKey, sessionToken));
      }
      return s;
    } catch (RuntimeException e) {
      NativeLib.mega_settings_free(s);
      throw e;
    }
  }
}

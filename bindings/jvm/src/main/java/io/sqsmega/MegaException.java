package io.sqsmega;

/**
 * Every error of sqs-mega: {@link #code()} is the core's stable code ({@code decode.base64}, docs/errors.md),
 * {@link #category()} its category, {@link #detail()} the reason, path or service code. One subclass per
 * family of the core's table.
 */
public class MegaException extends RuntimeException {
  private final String code;
  private final String category;
  private final String detail;

  public MegaException(String message, String code, String category, String detail) {
    super(message);
    this.code = code;
    this.category = category;
    this.detail = detail == null || detail.isEmpty() ? null : detail;
  }

  public String code() { return code; }
  public String category() { return category; }
  public String detail() { return detail; }

  public static class JsonException extends MegaException { JsonException(String m, String c, String cat, String d) { super(m, c, cat, d); } }
  public static class DecodeException extends MegaException { DecodeException(String m, String c, String cat, String d) { super(m, c, cat, d); } }
  public static class EncodeException extends MegaException { EncodeException(String m, String c, String cat, String d) { super(m, c, cat, d); } }
  public static class PatternException extends MegaException { PatternException(String m, String c, String cat, String d) { super(m, c, cat, d); } }
  public static class InvalidArgumentException extends MegaException { InvalidArgumentException(String m, String c, String cat, String d) { super(m, c, cat, d); } }
  public static class PublishException extends MegaException { PublishException(String m, String c, String cat, String d) { super(m, c, cat, d); } }
  public static class ServiceException extends MegaException { ServiceException(String m, String c, String cat, String d) { super(m, c, cat, d); } }
  public static class ListenerException extends MegaException { ListenerException(String m, String c, String cat, String d) { super(m, c, cat, d); } }
  public static class BusyException extends MegaException { BusyException(String m, String c, String cat, String d) { super(m, c, cat, d); } }
  public static class HandlerException extends MegaException { HandlerException(String m, String c, String cat, String d) { super(m, c, cat, d); } }

  static InvalidArgumentException invalid(String message) {
    return new InvalidArgumentException(message, "invalid_argument", "bad_input", null);
  }

  static MegaException of(String cls, String code, String message, String detail, String category) {
    return switch (cls == null ? "" : cls) {
      case "JsonError" -> new JsonException(message, code, category, detail);
      case "DecodeError" -> new DecodeException(message, code, category, detail);
      case "EncodeError" -> new EncodeException(message, code, category, detail);
      case "PatternError" -> new PatternException(message, code, category, detail);
      case "InvalidArgumentError" -> new InvalidArgumentException(message, code, category, detail);
      case "PublishError" -> new PublishException(message, code, category, detail);
      case "ServiceError" -> new ServiceException(message, code, category, detail);
      case "ListenerError" -> new ListenerException(message, code, category, detail);
      case "BusyError" -> new BusyException(message, code, category, detail);
      case "HandlerError" -> new HandlerException(message, code, category, detail);
      default -> new MegaException(message, code, category, detail);
    };
  }
}

package io.sqsmega;

/**
 * One span's place in a W3C trace: {@code traceparent} ({@code 00-<traceId>-<spanId>-<flags>}) and
 * {@code parent}, the sender's traceparent ({@code null} when the message carried none).
 *
 * <p>While a handler runs, {@link SqsListener#currentTrace()} returns its message's context on the handler's
 * thread, and what the thread publishes continues the trace (a new span of it) unless given
 * {@link Publisher.Options#traceparent(String)}.
 */
public record TraceContext(String traceparent, String parent) {
  /** 32 lowercase hex digits. */
  public String traceId() { return traceparent.substring(3, 35); }

  /** 16 lowercase hex digits. */
  public String spanId() { return traceparent.substring(36, 52); }

  /** The sender's span id, or null. */
  public String parentSpanId() { return parent == null ? null : parent.substring(36, 52); }

  @Override
  public String toString() { return traceparent; }
}

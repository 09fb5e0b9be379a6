package io.sqsmega;

import java.util.Map;

/**
 * What SQS said about a message: its id, receive count, the encoding of its payload, the SNS envelope's
 * metadata (when it came through SNS), its message attributes (name → {dataType, value}), and the trace
 * context of its handling ({@link TraceContext}: a new span of the sender's trace, or a new trace).
 */
public record Message(String messageId, int receiveCount, String encoding, Map<String, Object> sns, Map<String, Object> attributes, TraceContext trace) {}

package io.sqsmega;

/** What became of a message (seed 001); the codes are the C ABI's. */
public enum ProcessStatus {
  DONE(1), RETRY_LATER(2), FATAL_ERROR(3), RETRIABLE_ERROR(4);

  final int code;

  ProcessStatus(int code) { this.code = code; }
}

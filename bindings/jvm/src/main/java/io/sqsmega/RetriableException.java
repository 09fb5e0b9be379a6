package io.sqsmega;

/** Throw it (or a subclass) from a handler: the message comes back later (RETRIABLE_ERROR). */
public class RetriableException extends RuntimeException {
  public RetriableException(String message) { super(message); }
  public RetriableException(String message, Throwable cause) { super(message, cause); }
}

// A worker: bash examples/jvm/run.sh QUEUE_URL (or: java -cp <sqs-mega jar and its dependencies> Worker.java QUEUE_URL)
//
// Subscribes to every data object and MEGA event of the queue and prints one line per message handled, its
// message id first ("ID event NAME attempt N" / "ID data JSON"). Region, credentials and endpoint come from the
// standard AWS environment (AWS_REGION, AWS_ACCESS_KEY_ID..., AWS_ENDPOINT_URL for `mega local`). SIGTERM or
// Ctrl-C stops it gracefully (work in flight finishes); exit code 0.
//
// MEGA_COMPLETION_STORE chooses where subscribers' completions are kept, so that a message delivered twice is
// handled once: memory, redis://HOST:6379/0, dynamodb://TABLE (unset: no store); an invalid URL exits with code
// 1 and says why. MEGA_METRICS_ADDR (9464, 0.0.0.0:9464) serves Prometheus metrics at /metrics. Each handler
// runs in its message's trace (message.trace()): what it publishes continues that trace.
import io.sqsmega.MegaException;
import io.sqsmega.ProcessStatus;
import io.sqsmega.SqsListener;
import io.sqsmega.Subscriber;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

public class Worker {
  public static void main(String[] args) {
    if (args.length != 1) {
      System.err.println("usage: Worker QUEUE_URL");
      System.exit(2);
    }
    SqsListener.Builder builder = SqsListener.builder().queueUrl(args[0]);
    String store = System.getenv("MEGA_COMPLETION_STORE");
    if (store != null && !store.isEmpty()) builder.completionStore(store);
    String metrics = System.getenv("MEGA_METRICS_ADDR");
    if (metrics != null && !metrics.isEmpty()) builder.metricsAddr(metrics);
    SqsListener listener;
    try {
      listener = builder.build();
    } catch (MegaException e) {
      System.err.println("worker: " + e.getMessage());
      System.exit(1);
      return;
    }
    listener.subscribe(Subscriber.event().name("events").handler((payload, message) -> {
      say(message.messageId() + " event " + payload.event().name() + " attempt " + message.receiveCount());
      return ProcessStatus.DONE;
    }));
    listener.subscribe(Subscriber.data().name("data").<Map<String, Object>>handler((payload, message) -> {
      String json = new TreeMap<>(payload).entrySet().stream()
          .map(e -> "\"" + e.getKey() + "\":" + e.getValue()).collect(Collectors.joining(",", "{", "}"));
      say(message.messageId() + " data " + json);
      return ProcessStatus.DONE;
    }));
    // SIGTERM / Ctrl-C: stop and drain, then main returns and the JVM exits with 0. (A JVM whose shutdown a
    // signal started exits with 143 whatever its hooks do; listener.installShutdownHook() is the choice for
    // programs that do not care about the exit code.)
    for (String sig : new String[] {"TERM", "INT"}) {
      sun.misc.Signal.handle(new sun.misc.Signal(sig), s -> listener.stop());
    }
    say("listening on " + args[0] + " (Ctrl-C stops)");
    Map<String, Object> stats = listener.listen();
    say("stopped: " + stats.get("done") + " message(s) done");
  }

  static synchronized void say(String line) {
    System.out.println(line);
    System.out.flush();
  }
}

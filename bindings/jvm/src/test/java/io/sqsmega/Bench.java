package io.sqsmega;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/** JVM listener benchmark, next to the C callback path, one run (medians): bash bindings/bench/run.sh */
public final class Bench {
  static final int MESSAGES = Integer.parseInt(System.getenv().getOrDefault("MEGA_BENCH_MESSAGES", "20000"));
  static final int ROUNDS = Integer.parseInt(System.getenv().getOrDefault("MEGA_BENCH_ROUNDS", "3"));

  static String preload(LocalEndpoint ep, int n) {
    String url = ep.createQueue("bench-" + System.nanoTime());
    try (Publisher p = Publisher.sqs(url, ep.aws())) {
      for (int i = 0; i < n; i += 1000) {
        List<Object> batch = new ArrayList<>();
        for (int j = i; j < Math.min(n, i + 1000); j++) batch.add(Map.of("type", "order", "n", j));
        p.publishBatch(batch, Publisher.options());
      }
    }
    return url;
  }

  static double[] cPath(LocalEndpoint ep, String cNoop) throws Exception {
    String url = preload(ep, MESSAGES);
    Process p = new ProcessBuilder(cNoop, url, ep.url(), Integer.toString(MESSAGES)).start();
    String[] out = new String(p.getInputStream().readAllBytes()).trim().split(" ");
    p.waitFor();
    return new double[] {MESSAGES / Double.parseDouble(out[0]), Double.parseDouble(out[1])};
  }

  static double[] jvmPath(LocalEndpoint ep) {
    String url = preload(ep, MESSAGES);
    AtomicInteger count = new AtomicInteger();
    try (SqsListener l = SqsListener.builder().queueUrl(url).aws(ep.aws()).waitTimeSeconds(1).pollers(2).maxInFlight(100).build()) {
      l.subscribe(Subscriber.data().name("noop").handler((payload, m) -> {
        if (count.incrementAndGet() == MESSAGES) l.stop();
        return ProcessStatus.DONE;
      }));
      long t0 = System.nanoTime();
      Map<String, Object> s = l.listen();
      double secs = (System.nanoTime() - t0) / 1e9;
      double req = ((Number) s.get("receive_calls")).doubleValue() + ((Number) s.get("delete_calls")).doubleValue()
          + ((Number) s.get("visibility_calls")).doubleValue();
      return new double[] {MESSAGES / secs, req / ((Number) s.get("received")).doubleValue()};
    }
  }

  static double median(List<Double> xs) {
    double[] a = xs.stream().mapToDouble(Double::doubleValue).toArray();
    Arrays.sort(a);
    return a[a.length / 2];
  }

  public static void main(String[] args) throws Exception {
    List<Double> c = new ArrayList<>(), cr = new ArrayList<>(), j = new ArrayList<>(), jr = new ArrayList<>();
    try (LocalEndpoint ep = LocalEndpoint.start()) {
      System.out.printf("JVM listener benchmark: %d messages per drain, %d rounds, pollers=2, maxInFlight=100, workers=10, Java %s%n%n",
          MESSAGES, ROUNDS, System.getProperty("java.version"));
      for (int r = 0; r < ROUNDS; r++) {
        double[] a = cPath(ep, args[0]);
        double[] b = jvmPath(ep);
        c.add(a[0]); cr.add(a[1]); j.add(b[0]); jr.add(b[1]);
        System.out.printf("round %d: C callback %.0f msg/s, JVM %.0f msg/s%n", r + 1, a[0], b[0]);
      }
    }
    System.out.printf("%n%-36s %10s %8s%n%-36s %10.0f %8.3f%n%-36s %10.0f %8.3f%n", "", "msg/s", "req/msg",
        "C callback (mega_listener_subscribe)", median(c), median(cr), "JVM subscriber (pull, 10 threads)", median(j), median(jr));
    System.out.printf("%ngoal: JVM >= 60%% of the C callback path: %.0f%%%n", 100 * median(j) / median(c));
  }
}

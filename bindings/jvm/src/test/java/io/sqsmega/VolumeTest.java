package io.sqsmega;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** 100,000 messages through Java workers: each handled once, RSS bounded (no leak in the binding or the library). */
class VolumeTest {
  static final int TOTAL = 100_000;

  static double rssMib() throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
    }
    throw new IllegalStateException("no VmRSS");
  }

  @Test
  @Timeout(value = 600, unit = TimeUnit.SECONDS)
  void hundredThousandMessagesWithBoundedRss() throws Exception {
    try (LocalEndpoint ep = LocalEndpoint.start()) {
      String url = ep.createQueue("volume");
      try (Publisher p = Publisher.sqs(url, ep.aws())) {
        for (int i = 0; i < TOTAL; i += 1000) {
          List<Object> batch = new ArrayList<>();
          for (int j = i; j < i + 1000; j++) batch.add(Map.of("type", "order", "n", j));
          for (Object r : p.publishBatch(batch, Publisher.options())) assertInstanceOf(String.class, r);
        }
      }
      byte[] seen = new byte[TOTAL];
      AtomicInteger count = new AtomicInteger();
      double[] marks = new double[2];
      try (SqsListener l = SqsListener.builder().queueUrl(url).aws(ep.aws()).waitTimeSeconds(1).pollers(2).build()) {
        l.subscribe(Subscriber.data().name("orders").pattern(Map.of("type", "order")).<Map<String, Object>>handler((payload, m) -> {
          int n = ((Long) payload.get("n")).intValue();
          synchronized (seen) { seen[n]++; }
          int c = count.incrementAndGet();
          if (c == 20_000) { System.gc(); marks[0] = rssMib(); }
          if (c == TOTAL) { System.gc(); marks[1] = rssMib(); l.stop(); }
          return ProcessStatus.DONE;
        }));
        Map<String, Object> stats = l.listen();
        assertEquals((long) TOTAL, ((Number) stats.get("done")).longValue());
        assertEquals((long) TOTAL, ((Number) stats.get("deleted")).longValue());
      }
      for (int i = 0; i < TOTAL; i++) assertEquals(1, seen[i], "message " + i + " handled once");
      double growth = marks[1] - marks[0];
      assertTrue(growth < 40, "RSS grew " + growth + " MiB over the last 80,000 messages");
    }
  }
}

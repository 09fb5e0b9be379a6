# frozen_string_literal: true

# A worker: ruby examples/ruby/worker.rb QUEUE_URL
#
# Subscribes to every data object and MEGA event of the queue and prints one line per message handled, its
# message id first (`ID event NAME attempt N` / `ID data JSON`). Region, credentials and endpoint come from
# the standard AWS environment (AWS_REGION, AWS_ACCESS_KEY_ID..., AWS_ENDPOINT_URL for `mega local`).
# SIGTERM or Ctrl-C stops it gracefully (work in flight finishes); exit code 0.
#
# MEGA_COMPLETION_STORE chooses where subscribers' completions are kept, so that a message delivered twice is
# handled once: memory, redis://HOST:6379/0, dynamodb://TABLE (unset: no store); an invalid URL exits with
# code 1 and says why. MEGA_METRICS_ADDR (9464, 0.0.0.0:9464) serves Prometheus metrics at /metrics. Each
# handler runs in its message's trace (message.trace): what it publishes continues that trace.
require "sqs_mega"

queue_url = ARGV.fetch(0) { abort "usage: ruby worker.rb QUEUE_URL" }
OUT = Mutex.new

def say(line)
  OUT.synchronize { $stdout.puts(line); $stdout.flush }
  nil
end

class Events < SqsMega::EventSubscriber
  def process(payload, message)
    say "#{message.message_id} event #{payload.event.name} attempt #{message.receive_count}"
    :done # process returns a status (or nil): anything else counts as retriable_error
  end
end

class Data < SqsMega::DataSubscriber
  def process(payload, message)
    say "#{message.message_id} data #{JSON.generate(payload.sort.to_h)}"
    :done
  end
end

settings = { completion_store: ENV["MEGA_COMPLETION_STORE"], metrics_addr: ENV["MEGA_METRICS_ADDR"] }
begin
  listener = SqsMega::Listener.new(queue_url: queue_url, **settings.reject { |_, v| v.nil? || v.empty? })
rescue SqsMega::Error => e
  warn "worker: #{e.message}"
  exit 1
end
listener.register(Events)
listener.register(Data)
say "listening on #{queue_url} (Ctrl-C stops)"
stats = listener.listen
say "stopped: #{stats["done"]} message(s) done"

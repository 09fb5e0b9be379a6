# frozen_string_literal: true

# A worker: ruby examples/ruby/worker.rb QUEUE_URL
#
# Subscribes to every data object and MEGA event of the queue and prints one line per message handled, its
# message id first (`ID event NAME attempt N` / `ID data JSON`). Region, credentials and endpoint come from
# the standard AWS environment (AWS_REGION, AWS_ACCESS_KEY_ID..., AWS_ENDPOINT_URL for `mega local`).
# SIGTERM or Ctrl-C stops it gracefully (work in flight finishes); exit code 0.
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

listener = SqsMega::Listener.new(queue_url: queue_url)
listener.register(Events)
listener.register(Data)
say "listening on #{queue_url} (Ctrl-C stops)"
stats = listener.listen
say "stopped: #{stats["done"]} message(s) done"

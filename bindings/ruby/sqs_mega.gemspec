# frozen_string_literal: true

Gem::Specification.new do |s|
  s.name = "sqs_mega"
  s.version = "0.1.0"
  s.summary = "Async task processing, event streaming and pattern matching over Amazon SQS and SNS (MEGA events), on a Rust core"
  s.description = "The Ruby binding of sqs-mega over its C library (libsqs_mega) with the ffi gem: subscribers in the seed's style, " \
                  "pattern helpers, publishers, and a listener whose Ruby threads pull work from the core."
  s.authors = ["sqs-mega"]
  s.license = "MIT"
  s.homepage = "https://github.com/sqs-mega/sqs-mega"
  s.required_ruby_version = ">= 3.0"
  s.files = Dir["lib/**/*.rb"] + Dir["lib/sqs_mega/native/*"] + ["README.md"]
  s.add_dependency "ffi", ">= 1.15"
end

# Loads the Vagrantfile in the current directory without Vagrant (a stand-in Vagrant module: nothing is
# configured or booted) and prints, as JSON, what its YAML loader (CiliumLab.read_yaml) makes of FILE:
#   {"value": ...}  or  {"error": "<message>"}
# Used by test/vagrant/yaml.integration.test.ts to hold the Vagrantfile's loader and helpers/topology.ts to
# the same rules. LAB_STATE_DIR must point at a scratch directory (the Vagrantfile makes the lab CA there).
require "json"

module Vagrant
  def self.require_version(*); end
  def self.configure(*); end
end

load File.join(Dir.pwd, "Vagrantfile")
begin
  puts JSON.generate(value: CiliumLab.read_yaml(ARGV.fetch(0), "lab topology"))
rescue CiliumLab::Error => e
  puts JSON.generate(error: e.message)
end

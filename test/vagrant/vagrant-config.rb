# Asks Vagrant itself, booting nothing, what the Vagrantfile in the current directory configures:
# for every machine its hostname, box, networks, provider settings and provisioners, as JSON on stdout.
# Used by the self-tests (test/vagrant/vagrantfile.integration.test.ts) through the system Ruby, whose
# Vagrant library is the one the Debian `vagrant` package installs.
require "json"
require "vagrant"

env = Vagrant::Environment.new(cwd: Dir.pwd, ui_class: Vagrant::UI::Silent)
machines = env.machine_names.map do |name|
  config = env.vagrantfile.machine_config(name, nil, nil)[:config]
  vm = config.vm
  providers = {}
  %i[virtualbox libvirt].each do |provider|
    pc = vm.get_provider_config(provider)
    next if pc.nil? || pc.class.name.to_s.include?("Dummy")
    providers[provider] = {
      cpus: pc.cpus,
      memory: pc.memory,
      customize: pc.respond_to?(:customizations) ? pc.customizations.map { |c| c.is_a?(Array) ? c.last : c } : nil,
    }
  end
  {
    name: name,
    hostname: vm.hostname,
    box: vm.box,
    boxVersion: vm.box_version,
    syncedFolders: vm.synced_folders.transform_values { |o| { disabled: o[:disabled] } },
    networks: vm.networks.select { |type, _| type == :private_network }.map { |_, o| o.slice(:ip, :netmask, :auto_config) },
    provisioners: vm.provisioners.map do |p|
      c = p.config
      {
        name: p.name,
        type: p.type,
        inline: c.respond_to?(:inline) ? c.inline : nil,
        env: c.respond_to?(:env) ? c.env : nil,
        source: c.respond_to?(:source) ? c.source : nil,
        destination: c.respond_to?(:destination) ? c.destination : nil,
      }
    end,
    providers: providers,
  }
end
puts JSON.generate(machines: machines)

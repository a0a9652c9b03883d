# Computes the expected titles of label_titles.json from its inputs, as GitLab stores
# them: `sanitized` as app/models/label.rb did before gitlab-org/gitlab!207594
# (CGI.unescapeHTML(Sanitize.clean(title)), then strip), `verbatim` as GitLab does since
# (strip only). Run with Ruby and the sanitize gem (Debian: apt-get install ruby
# ruby-sanitize): ruby tests/data/label_titles.rb tests/data/label_titles.json
require "sanitize"
require "cgi"
require "json"

table = JSON.parse(File.read(ARGV.fetch(0)))
table["vectors"].each do |v|
  v["sanitized"] = CGI.unescapeHTML(Sanitize.clean(v["input"])).strip
  v["verbatim"] = v["input"].strip
end
puts JSON.pretty_generate(table)

-- SPDX-License-Identifier: MIT
-- bench/http/pipeline.lua — wrk script: every write carries 16 pipelined GET requests.
init = function(args)
  local r = {}
  for i = 1, 16 do
    r[i] = wrk.format("GET", "/")
  end
  req = table.concat(r)
end

request = function()
  return req
end

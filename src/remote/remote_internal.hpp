// The two kinds of remote, behind remote::open.
#pragma once

#include "remote/remote.hpp"

#include <filesystem>

namespace kget::remote {

Result<std::unique_ptr<Remote>> open_hub(std::string_view endpoint, const EndpointOptions& options);
Result<std::unique_ptr<Remote>> open_store(std::string endpoint, const std::filesystem::path& root);

} // namespace kget::remote

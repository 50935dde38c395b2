"""Network: the VPC an EKS cluster gets when the stack does not bring its own.

Private subnets (nodes, internal load balancers) and public subnets (NAT, internet-facing load
balancers) in each configured AZ, one NAT gateway, and the subnet tags that the AWS load
balancer controller looks for.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from core.spec import NewVpc


def subnet_cidrs(vpc_cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """Cuts the VPC into 16 equal blocks (room for 6 zones): private subnets, then public ones."""
    blocks = [str(b) for b in ipaddress.ip_network(vpc_cidr).subnets(prefixlen_diff=4)]
    return blocks[:zones], blocks[zones : 2 * zones]


@dataclass(frozen=True)
class NetworkArgs:
    vpc: NewVpc
    """The VPC's CIDR and availability zones."""
    cluster_name: str
    """The EKS cluster whose subnets these are (kubernetes.io/cluster/<name> tags)."""


class Network(pulumi.ComponentResource):
    """A VPC with private and public subnets across the configured availability zones."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        spec, cluster_name = args.vpc, args.cluster_name
        owned = {f"kubernetes.io/cluster/{cluster_name}": "shared"}
        vpc = aws.ec2.Vpc(
            name,
            cidr_block=spec.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": name, **owned},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(name, vpc_id=vpc.id, tags={"Name": name}, opts=child)
        zones = _zones(spec.availability_zones)
        private_cidrs, public_cidrs = subnet_cidrs(spec.cidr, len(zones))
        tier = functools.partial(_subnet_tier, name, vpc.id, zones, owned, child)
        public = tier("public", public_cidrs, "kubernetes.io/role/elb", aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id))
        eip = aws.ec2.Eip(f"{name}-nat", domain="vpc", tags={"Name": f"{name}-nat"}, opts=child)
        nat = aws.ec2.NatGateway(name, allocation_id=eip.id, subnet_id=public[0].id, tags={"Name": name}, opts=child)
        private = tier(
            "private", private_cidrs, "kubernetes.io/role/internal-elb", aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)
        )
        self.private_subnet_ids: list[pulumi.Output[str]] = [subnet.id for subnet in private]
        self.vpc_id = vpc.id
        self.register_outputs({"vpcId": self.vpc_id, "privateSubnetIds": self.private_subnet_ids})


def _zones(availability_zones: list[str] | int) -> list[str]:
    """The zones' names: as given, or the first `count` of the region's available zones (as awsx's
    numberOfAvailabilityZones does)."""
    if not isinstance(availability_zones, int):
        return list(availability_zones)
    names = list(aws.get_availability_zones(state="available").names or [])
    if len(names) < availability_zones:
        raise ValueError(
            f"vpc.availabilityZones: {availability_zones} asked for, the region has {len(names)} available: {names}"
        )
    return names[:availability_zones]


def _subnet_tier(name, vpc_id, zones, owned, child, tier, cidrs, role_tag, route) -> list[aws.ec2.Subnet]:
    """One subnet per zone sharing a route table; role_tag tells load balancers what the tier is for."""
    table = aws.ec2.RouteTable(f"{name}-{tier}", vpc_id=vpc_id, routes=[route], tags={"Name": f"{name}-{tier}"}, opts=child)
    subnets = []
    for zone, cidr in zip(zones, cidrs):
        subnet = aws.ec2.Subnet(
            f"{name}-{tier}-{zone}",
            vpc_id=vpc_id,
            cidr_block=cidr,
            availability_zone=zone,
            tags={"Name": f"{name}-{tier}-{zone}", role_tag: "1", **owned},
            opts=child,
        )
        aws.ec2.RouteTableAssociation(f"{name}-{tier}-{zone}", subnet_id=subnet.id, route_table_id=table.id, opts=child)
        subnets.append(subnet)
    return subnets

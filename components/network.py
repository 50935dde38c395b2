"""Network: the VPC an EKS cluster gets when the stack does not bring its own.

Private subnets (nodes, internal load balancers) and public subnets (NAT, internet-facing load
balancers) in each configured AZ, one NAT gateway, and the subnet tags that the AWS load
balancer controller looks for.
"""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_aws as aws

from .spec import NewVpc


def subnet_cidrs(vpc_cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """Cuts the VPC into 16 equal blocks (room for 6 zones): private subnets, then public ones."""
    blocks = [str(b) for b in ipaddress.ip_network(vpc_cidr).subnets(prefixlen_diff=4)]
    return blocks[:zones], blocks[zones : 2 * zones]


class Network(pulumi.ComponentResource):
    """A VPC with private and public subnets across the configured availability zones."""

    def __init__(self, name: str, spec: NewVpc, cluster_name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
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
        private_cidrs, public_cidrs = subnet_cidrs(spec.cidr, len(spec.availability_zones))
        public_rt = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={"Name": f"{name}-public"},
            opts=child,
        )
        public_subnets = []
        for zone, cidr in zip(spec.availability_zones, public_cidrs):
            subnet = aws.ec2.Subnet(
                f"{name}-public-{zone}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-public-{zone}", "kubernetes.io/role/elb": "1", **owned},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{zone}", subnet_id=subnet.id, route_table_id=public_rt.id, opts=child
            )
            public_subnets.append(subnet)
        eip = aws.ec2.Eip(f"{name}-nat", domain="vpc", tags={"Name": f"{name}-nat"}, opts=child)
        nat = aws.ec2.NatGateway(
            name, allocation_id=eip.id, subnet_id=public_subnets[0].id, tags={"Name": name}, opts=child
        )
        private_rt = aws.ec2.RouteTable(
            f"{name}-private",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
            tags={"Name": f"{name}-private"},
            opts=child,
        )
        self.private_subnet_ids: list[pulumi.Output[str]] = []
        for zone, cidr in zip(spec.availability_zones, private_cidrs):
            subnet = aws.ec2.Subnet(
                f"{name}-private-{zone}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                tags={"Name": f"{name}-private-{zone}", "kubernetes.io/role/internal-elb": "1", **owned},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}", subnet_id=subnet.id, route_table_id=private_rt.id, opts=child
            )
            self.private_subnet_ids.append(subnet.id)
        self.vpc_id = vpc.id
        self.register_outputs({"vpcId": self.vpc_id, "privateSubnetIds": self.private_subnet_ids})
